-- Every delivery report is now written to the inbox before it is acknowledged, and forwarded in
-- order per key. Rows stored before this migration get the key the webhook gives new ones.
ALTER TABLE "DeliveryReport" ALTER COLUMN "reason" SET DEFAULT 'received',
ADD COLUMN     "orderKey" TEXT NOT NULL DEFAULT '';

-- As src/inbox/delivery-reports.ts keys them: a key too long to index by its SHA-256.
UPDATE "DeliveryReport" SET "orderKey" = key FROM (
  SELECT "id" AS keyed, COALESCE("messageId", "providerId" || ':' || COALESCE("providerMessageId", '')) AS plain FROM "DeliveryReport"
) AS plain_keys, LATERAL (
  SELECT CASE WHEN length(plain) > 200 THEN 'sha256:' || encode(sha256(convert_to(plain, 'UTF8')), 'hex') ELSE plain END AS key
) AS keys
WHERE "id" = keyed;

ALTER TABLE "DeliveryReport" ALTER COLUMN "orderKey" DROP DEFAULT;

-- Inbound workflows are started by the forwarder; messages stored before were started by the webhook.
ALTER TABLE "InboundMessage" ADD COLUMN     "startLeasedUntil" TIMESTAMP(3),
ADD COLUMN     "workflowStartedAt" TIMESTAMP(3);

UPDATE "InboundMessage" SET "workflowStartedAt" = "createdAt";

-- CreateIndex
CREATE INDEX "DeliveryReport_orderKey_id_idx" ON "DeliveryReport"("orderKey", "id");

-- CreateIndex
CREATE INDEX "InboundMessage_workflowStartedAt_createdAt_idx" ON "InboundMessage"("workflowStartedAt", "createdAt");
