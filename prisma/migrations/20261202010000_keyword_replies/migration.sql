-- AlterTable
ALTER TABLE "Account" ADD COLUMN     "keywordReplies" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "optInReplyText" TEXT,
ADD COLUMN     "optOutReplyText" TEXT;

-- AlterTable
ALTER TABLE "OwnedNumber" ADD COLUMN     "keyword" TEXT;
