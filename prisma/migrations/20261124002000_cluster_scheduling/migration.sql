-- Why a pending session is still pending (the scheduler's last rejections), and the concrete GPU
-- type a deployment's replicas run on when it asked for "auto".

-- AlterTable
ALTER TABLE "deployments" ADD COLUMN     "resolved_gpu_type" VARCHAR(50);

-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "scheduling_notes" JSONB;
