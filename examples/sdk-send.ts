/**
 * Sends one SMS through smsrouter with the TypeScript SDK and waits for what became of it.
 *
 *   npm start                                  # in another terminal
 *   npx tsx examples/sdk-send.ts [+4520123456]
 *
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and SMSROUTER_ACCOUNT override the local defaults.
 */
import { InvalidMessageError, SmsRouterClient } from 'smsrouter/client';

async function run(): Promise<void> {
  const sms = await SmsRouterClient.connect({
    address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    accountId: process.env.SMSROUTER_ACCOUNT ?? 'demo',
  });
  try {
    const sent = await sms.send({
      to: process.argv[2] ?? '+4520123456',
      from: 'Acme',
      body: 'Hello from the smsrouter SDK',
      // The same clientRef again is the same message: a retry of this call never sends twice.
      clientRef: `sdk-example-${Date.now()}`,
    });
    console.log(`accepted ${sent.id} to ${sent.to}`);
    const final = await sms.waitForFinal(sent.id, { timeoutMs: 60_000 });
    console.log(`${final.id} ${final.status}${final.providerId ? ` via ${final.providerId}` : ''}`);
  } catch (error) {
    // Typed errors name the field at fault; nothing was started.
    if (!(error instanceof InvalidMessageError)) throw error;
    console.error(`not sent: ${error.field}: ${error.message}`);
    process.exitCode = 2;
  } finally {
    await sms.close();
  }
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
