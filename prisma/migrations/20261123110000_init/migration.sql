-- CreateEnum
CREATE TYPE "MessageStatus" AS ENUM ('accepted', 'scheduled', 'routed', 'submitted', 'attempt_failed', 'enroute', 'buffered', 'delivered', 'undelivered', 'rejected', 'expired', 'failed', 'unknown', 'cancelled');

-- CreateEnum
CREATE TYPE "DeliveryGuarantee" AS ENUM ('at_most_once', 'at_least_once');

-- CreateTable
CREATE TABLE "Account" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Account_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "keyHash" TEXT NOT NULL,
    "label" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Provider" (
    "id" TEXT NOT NULL,
    "adapter" TEXT NOT NULL,
    "baseUrl" TEXT NOT NULL,
    "credentialsRef" TEXT,
    "tps" INTEGER NOT NULL,
    "window" INTEGER NOT NULL,
    "dlrTimeoutSeconds" INTEGER NOT NULL DEFAULT 172800,
    "deliveryGuarantee" "DeliveryGuarantee" NOT NULL DEFAULT 'at_most_once',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Provider_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Route" (
    "id" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "accountId" TEXT,
    "sender" TEXT,
    "providerId" TEXT NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "weight" INTEGER NOT NULL DEFAULT 1,
    "price" DECIMAL(12,6),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Route_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Message" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "clientRef" TEXT,
    "to" TEXT NOT NULL,
    "from" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "encoding" TEXT NOT NULL,
    "segments" INTEGER NOT NULL,
    "country" TEXT,
    "status" "MessageStatus" NOT NULL,
    "providerId" TEXT,
    "providerMessageId" TEXT,
    "errorCode" TEXT,
    "errorReason" TEXT,
    "callbackUrl" TEXT,
    "sendAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "submittedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "Message_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MessageEvent" (
    "id" BIGSERIAL NOT NULL,
    "messageId" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "status" "MessageStatus" NOT NULL,
    "providerId" TEXT,
    "providerMessageId" TEXT,
    "country" TEXT,
    "errorCode" TEXT,
    "reason" TEXT,
    "occurredAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "MessageEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeliveryReport" (
    "id" BIGSERIAL NOT NULL,
    "providerId" TEXT NOT NULL,
    "messageId" TEXT,
    "providerMessageId" TEXT,
    "status" TEXT,
    "payload" JSONB NOT NULL,
    "reason" TEXT NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processedAt" TIMESTAMP(3),

    CONSTRAINT "DeliveryReport_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_keyHash_key" ON "ApiKey"("keyHash");

-- CreateIndex
CREATE INDEX "ApiKey_accountId_idx" ON "ApiKey"("accountId");

-- CreateIndex
CREATE INDEX "Route_prefix_idx" ON "Route"("prefix");

-- CreateIndex
CREATE INDEX "Route_providerId_idx" ON "Route"("providerId");

-- CreateIndex
CREATE INDEX "Message_providerId_providerMessageId_idx" ON "Message"("providerId", "providerMessageId");

-- CreateIndex
CREATE INDEX "Message_createdAt_idx" ON "Message"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Message_accountId_clientRef_key" ON "Message"("accountId", "clientRef");

-- CreateIndex
CREATE INDEX "MessageEvent_occurredAt_providerId_idx" ON "MessageEvent"("occurredAt", "providerId");

-- CreateIndex
CREATE INDEX "MessageEvent_occurredAt_country_idx" ON "MessageEvent"("occurredAt", "country");

-- CreateIndex
CREATE INDEX "MessageEvent_occurredAt_status_idx" ON "MessageEvent"("occurredAt", "status");

-- CreateIndex
CREATE UNIQUE INDEX "MessageEvent_messageId_sequence_key" ON "MessageEvent"("messageId", "sequence");

-- CreateIndex
CREATE INDEX "DeliveryReport_processedAt_idx" ON "DeliveryReport"("processedAt");

-- CreateIndex
CREATE INDEX "DeliveryReport_providerId_providerMessageId_idx" ON "DeliveryReport"("providerId", "providerMessageId");

-- CreateIndex
CREATE INDEX "DeliveryReport_messageId_idx" ON "DeliveryReport"("messageId");

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Route" ADD CONSTRAINT "Route_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Route" ADD CONSTRAINT "Route_providerId_fkey" FOREIGN KEY ("providerId") REFERENCES "Provider"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MessageEvent" ADD CONSTRAINT "MessageEvent_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
