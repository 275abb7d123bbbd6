-- AlterTable
ALTER TABLE "Provider" ADD COLUMN     "previousSecretValidUntil" TIMESTAMP(3),
ADD COLUMN     "previousWebhookSecret" TEXT,
ADD COLUMN     "webhookSecret" TEXT NOT NULL DEFAULT replace(((gen_random_uuid())::text || (gen_random_uuid())::text), '-'::text, ''::text);
