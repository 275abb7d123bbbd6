-- AlterTable
-- Prisma generates the column without a default, which fails on a table that already has routes.
-- Existing rows take the migration time instead; dropping the default leaves the column exactly as
-- schema.prisma describes it (@updatedAt is filled in by the client).
ALTER TABLE "Route" ADD COLUMN     "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE "Route" ALTER COLUMN "updatedAt" DROP DEFAULT;
