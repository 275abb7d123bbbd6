-- AlterTable
ALTER TABLE "Provider" ADD COLUMN     "pipelining" INTEGER NOT NULL DEFAULT 1;
