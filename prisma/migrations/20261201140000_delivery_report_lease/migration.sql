-- AlterTable
ALTER TABLE "DeliveryReport" ADD COLUMN     "attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "lastError" TEXT,
ADD COLUMN     "leasedBy" TEXT,
ADD COLUMN     "leasedUntil" TIMESTAMP(3),
ADD COLUMN     "parkedAt" TIMESTAMP(3);
