import { parse as parseYaml, YAMLParseError } from 'yaml';
import { AdminValidationError } from '../admin/errors';

/**
 * Reads an import document. JSON when the name ends in .json or the text starts with '{' (JSON's
 * own errors are clearer for JSON), YAML otherwise.
 */
export function parseRoutingDocument(source: string, fileName?: string): unknown {
  const asJson = fileName ? /\.json$/i.test(fileName) : source.trimStart().startsWith('{');
  if (asJson) {
    try {
      return JSON.parse(source) as unknown;
    } catch (error) {
      throw new AdminValidationError([{ field: '', message: `not valid JSON: ${(error as Error).message}` }]);
    }
  }
  try {
    return parseYaml(source) as unknown;
  } catch (error) {
    if (error instanceof YAMLParseError) {
      // The first line says what and where ("… at line 2, column 13:"); the rest is a code excerpt.
      const what = (error.message.split('\n')[0] ?? '').replace(/:$/, '');
      const hint = error.code === 'BAD_ALIAS' ? ` (write '*' in quotes: a bare * starts a YAML alias)` : '';
      throw new AdminValidationError([{ field: '', message: `not valid YAML: ${what}${hint}` }]);
    }
    throw error;
  }
}
