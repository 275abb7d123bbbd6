-- AlterTable
ALTER TABLE "Account" ADD COLUMN     "callbackSecret" TEXT NOT NULL DEFAULT replace(((gen_random_uuid())::text || (gen_random_uuid())::text), '-'::text, ''::text),
ADD COLUMN     "dailyMessageCap" INTEGER,
ADD COLUMN     "disabledAt" TIMESTAMP(3),
ADD COLUMN     "maxMessagesPerSecond" INTEGER;

-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "prefix" TEXT;

-- CreateTable
CREATE TABLE "AccountDailyUsage" (
    "accountId" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "messages" INTEGER NOT NULL,

    CONSTRAINT "AccountDailyUsage_pkey" PRIMARY KEY ("accountId","day")
);

-- AddForeignKey
ALTER TABLE "AccountDailyUsage" ADD CONSTRAINT "AccountDailyUsage_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
