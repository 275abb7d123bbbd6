-- AlterTable
ALTER TABLE "Account" ADD COLUMN     "inboundWebhookUrl" TEXT,
ADD COLUMN     "keywordOverrides" JSONB;

-- CreateTable
CREATE TABLE "OwnedNumber" (
    "number" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "providers" TEXT[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OwnedNumber_pkey" PRIMARY KEY ("number")
);

-- CreateTable
CREATE TABLE "InboundMessage" (
    "id" TEXT NOT NULL,
    "providerId" TEXT NOT NULL,
    "providerMessageId" TEXT NOT NULL,
    "accountId" TEXT,
    "from" TEXT NOT NULL,
    "to" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "encoding" TEXT NOT NULL,
    "country" TEXT,
    "parts" INTEGER NOT NULL DEFAULT 1,
    "keyword" TEXT,
    "receivedAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deliveredAt" TIMESTAMP(3),

    CONSTRAINT "InboundMessage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InboundPart" (
    "providerId" TEXT NOT NULL,
    "providerMessageId" TEXT NOT NULL,
    "from" TEXT NOT NULL,
    "to" TEXT NOT NULL,
    "concatRef" TEXT NOT NULL,
    "part" INTEGER NOT NULL,
    "total" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "encoding" TEXT NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "messageId" TEXT,

    CONSTRAINT "InboundPart_pkey" PRIMARY KEY ("providerId","providerMessageId")
);

-- CreateTable
CREATE TABLE "Suppression" (
    "accountId" TEXT NOT NULL,
    "number" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "source" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Suppression_pkey" PRIMARY KEY ("accountId","number")
);

-- CreateIndex
CREATE INDEX "OwnedNumber_accountId_idx" ON "OwnedNumber"("accountId");

-- CreateIndex
CREATE INDEX "InboundMessage_accountId_receivedAt_idx" ON "InboundMessage"("accountId", "receivedAt");

-- CreateIndex
CREATE INDEX "InboundMessage_receivedAt_idx" ON "InboundMessage"("receivedAt");

-- CreateIndex
CREATE UNIQUE INDEX "InboundMessage_providerId_providerMessageId_key" ON "InboundMessage"("providerId", "providerMessageId");

-- CreateIndex
CREATE INDEX "InboundPart_providerId_from_to_concatRef_messageId_idx" ON "InboundPart"("providerId", "from", "to", "concatRef", "messageId");

-- AddForeignKey
ALTER TABLE "OwnedNumber" ADD CONSTRAINT "OwnedNumber_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InboundMessage" ADD CONSTRAINT "InboundMessage_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Suppression" ADD CONSTRAINT "Suppression_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
