-- Every delivery report is now written to the inbox before it is acknowledged, and forwarded in
-- order per key. Rows stored before this migration get the key the webhook gives new ones.
ALTER TABLE "DeliveryReport" ALTER COLUMN "reason" SET DEFAULT 'received',
ADD COLUMN     "orderKey" TEXT NOT NULL DEFAULT '';

UPDATE "DeliveryReport" SET "orderKey" = COALESCE("messageId", "providerId" || ':' || COALESCE("providerMessageId", ''));

ALTER TABLE "DeliveryReport" ALTER COLUMN "orderKey" DROP DEFAULT;

-- Inbound workflows are started by the forwarder; messages stored before were started by the webhook.
ALTER TABLE "InboundMessage" ADD COLUMN     "startLeasedUntil" TIMESTAMP(3),
ADD COLUMN     "workflowStartedAt" TIMESTAMP(3);

UPDATE "InboundMessage" SET "workflowStartedAt" = "createdAt";

-- CreateIndex
CREATE INDEX "DeliveryReport_orderKey_id_idx" ON "DeliveryReport"("orderKey", "id");

-- CreateIndex
CREATE INDEX "InboundMessage_workflowStartedAt_createdAt_idx" ON "InboundMessage"("workflowStartedAt", "createdAt");
