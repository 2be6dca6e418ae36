-- CreateTable
CREATE TABLE "sync_consistency_reports" (
    "id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "repair" BOOLEAN NOT NULL DEFAULT false,
    "started_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(6),
    "differences" INTEGER NOT NULL DEFAULT 0,
    "result" JSONB,

    CONSTRAINT "sync_consistency_reports_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "sync_consistency_reports_started_at_idx" ON "sync_consistency_reports"("started_at");

