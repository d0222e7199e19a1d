-- The operator's own tenant: its admins may create and suspend other tenants.
ALTER TABLE "tenants" ADD COLUMN "is_platform" BOOLEAN NOT NULL DEFAULT false;
