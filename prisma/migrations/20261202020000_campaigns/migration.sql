-- CreateTable
CREATE TABLE "Campaign" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "clientRef" TEXT,
    "from" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "callbackUrl" TEXT,
    "sendAt" TIMESTAMP(3),
    "validitySeconds" INTEGER,
    "recipientCount" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cancelledAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "Campaign_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CampaignRecipientPage" (
    "campaignId" TEXT NOT NULL,
    "page" INTEGER NOT NULL,
    "numbers" TEXT[],
    "clientRefs" TEXT[],

    CONSTRAINT "CampaignRecipientPage_pkey" PRIMARY KEY ("campaignId","page")
);

-- CreateTable
CREATE TABLE "CampaignRecipient" (
    "campaignId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "messageId" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "errorReason" TEXT,

    CONSTRAINT "CampaignRecipient_pkey" PRIMARY KEY ("campaignId","position")
);

-- CreateIndex
CREATE UNIQUE INDEX "Campaign_accountId_clientRef_key" ON "Campaign"("accountId", "clientRef");

-- AddForeignKey
ALTER TABLE "Campaign" ADD CONSTRAINT "Campaign_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CampaignRecipientPage" ADD CONSTRAINT "CampaignRecipientPage_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CampaignRecipient" ADD CONSTRAINT "CampaignRecipient_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
