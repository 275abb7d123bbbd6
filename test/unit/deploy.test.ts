/**
 * docker-compose.yml and the Dockerfile stay in step with the build and with what the tests run.
 * There is no Docker engine here, so this reads the files: every `node dist/…` command must be the
 * output tsconfig.json gives for a source file in the repository (it does not run the build), the
 * setup step must run before the API and the worker, and every shape must use the one dynamic config.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { z } from 'zod';
import { PART_ENTRIES } from '../../scripts/parts';
import { DYNAMIC_CONFIG_FILE } from '../../src/dev/temporal-server';

const ROOT = resolve(__dirname, '../..');
const read = (file: string) => readFileSync(resolve(ROOT, file), 'utf8');

const composeSchema = z.object({
  services: z.record(
    z.string(),
    z.object({
      command: z.array(z.string()).optional(),
      depends_on: z.union([z.array(z.string()), z.record(z.string(), z.object({ condition: z.string() }))]).optional(),
      volumes: z.array(z.string()).optional(),
      cpu_shares: z.number().int().positive().optional(),
    }),
  ),
});
const compose = composeSchema.parse(parse(read('docker-compose.yml')));
const tsconfig = z
  .object({ compilerOptions: z.object({ outDir: z.string(), rootDir: z.string() }), include: z.array(z.string()) })
  .parse(JSON.parse(read('tsconfig.json')));

/** The source file tsc compiles to `output`, if the build produces it. */
function sourceOf(output: string): string | undefined {
  const outDir = tsconfig.compilerOptions.outDir.replace(/\/$/, '');
  if (!output.startsWith(`${outDir}/`) || !output.endsWith('.js')) return undefined;
  const source = resolve(ROOT, tsconfig.compilerOptions.rootDir, output.slice(outDir.length + 1).replace(/\.js$/, '.ts'));
  const path = relative(ROOT, source);
  const included = tsconfig.include.some((glob) => path.startsWith(glob.replace(/\*\*\/\*\.ts$/, '')) || path === glob);
  return existsSync(source) && included ? path : undefined;
}

function nodeCommands(): [string, string][] {
  const commands: [string, string][] = Object.entries(compose.services)
    .filter(([, service]) => service.command?.[0] === 'node')
    .map(([name, service]) => [name, service.command?.[1] ?? '']);
  const cmd = /^CMD \["node", "([^"]+)"\]$/m.exec(read('Dockerfile'))?.[1];
  assert.ok(cmd, 'the Dockerfile has a node CMD');
  commands.push(['Dockerfile CMD', cmd]);
  return commands;
}

test('every node command of docker-compose.yml and the Dockerfile is a build output of a source file that runs on its own', () => {
  const commands = nodeCommands();
  assert.ok(commands.length >= 4, 'setup, worker, api and the image default');
  for (const [service, output] of commands) {
    const source = sourceOf(output);
    assert.ok(source, `${service}: ${output} is not produced by \`npm run build\` from a source file`);
    // An entry point does its work when node runs it, not only when imported.
    assert.match(read(source), /require\.main === module|^run\(\)/m, `${service}: ${source} does nothing when run`);
  }
});

test('compose runs the setup step, the API and the workers from the same entry points npm start and the tests run', () => {
  const commands = new Map(nodeCommands());
  assert.equal(commands.get('setup'), `dist/scripts/setup.js`);
  assert.equal(commands.get('api'), `dist/${PART_ENTRIES.api}.js`);
  assert.equal(commands.get('worker'), `dist/${PART_ENTRIES.workers}.js`);
  for (const service of ['api', 'worker']) {
    const dependsOn = compose.services[service]?.depends_on;
    assert.ok(dependsOn && !Array.isArray(dependsOn), `${service} has conditions on what it depends on`);
    assert.equal(dependsOn.setup?.condition, 'service_completed_successfully', `${service} starts after the setup step succeeded`);
  }
  assert.match(read('Dockerfile'), /COPY --from=build \/app\/dist \.\/dist/);
  assert.match(read('Dockerfile'), /COPY --from=build \/app\/prisma \.\/prisma/, 'the setup step needs the migrations');
});

test('compose, the full server of npm start and the dev server use the one dynamic config file', () => {
  const mounted = compose.services.temporal?.volumes?.map((volume) => volume.split(':')[0]) ?? [];
  const file = relative(ROOT, DYNAMIC_CONFIG_FILE);
  assert.ok(mounted.includes(`./${file}`), `compose mounts ${file}`);
  assert.match(read('deploy/temporal/postgres.yaml'), new RegExp(`default "${file}"`), 'the full server reads it');
  // Every host path compose mounts exists in the repository.
  for (const volume of mounted.filter((source) => source.startsWith('./'))) assert.ok(existsSync(resolve(ROOT, volume)), `${volume} exists`);
});

test('on a shared host, compose gives the worker and Temporal less CPU weight than the API, as npm start gives them a higher nice value', () => {
  // Docker's default weight, when a service names none.
  const weightOf = (service: string) => compose.services[service]?.cpu_shares ?? 1024;
  for (const service of ['worker', 'temporal']) assert.ok(weightOf(service) < weightOf('api'), `${service} weighs less than the api`);
});
