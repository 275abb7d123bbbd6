-- DropIndex
DROP INDEX "DeliveryReport_processedAt_idx";

-- AlterTable
ALTER TABLE "DeliveryReport" ADD COLUMN     "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateIndex
CREATE INDEX "DeliveryReport_processedAt_nextAttemptAt_idx" ON "DeliveryReport"("processedAt", "nextAttemptAt");
