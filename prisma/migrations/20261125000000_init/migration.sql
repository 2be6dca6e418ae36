-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "order_status" AS ENUM ('pending', 'assigned', 'delivered', 'cancelled');

-- CreateTable
CREATE TABLE "customers" (
    "id" SERIAL NOT NULL,
    "customer_code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "short_name" TEXT,
    "address" TEXT,
    "phone" TEXT,
    "contact_person" TEXT,
    "notes" TEXT,
    "district" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "legacy_id" INTEGER,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(6),

    CONSTRAINT "customers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "drivers" (
    "id" SERIAL NOT NULL,
    "employee_no" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "phone" TEXT,
    "familiar_areas" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "legacy_id" INTEGER,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(6),

    CONSTRAINT "drivers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "orders" (
    "id" SERIAL NOT NULL,
    "customer_id" INTEGER NOT NULL,
    "driver_id" INTEGER,
    "delivery_date" DATE NOT NULL,
    "qty_50kg" INTEGER NOT NULL DEFAULT 0,
    "qty_20kg" INTEGER NOT NULL DEFAULT 0,
    "qty_16kg" INTEGER NOT NULL DEFAULT 0,
    "qty_10kg" INTEGER NOT NULL DEFAULT 0,
    "qty_4kg" INTEGER NOT NULL DEFAULT 0,
    "status" "order_status" NOT NULL,
    "amount" INTEGER,
    "notes" TEXT,
    "legacy_id" INTEGER,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(6),

    CONSTRAINT "orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_state" (
    "table_name" TEXT NOT NULL,
    "direction" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "cursor_ts" TEXT,
    "cursor_id" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_state_pkey" PRIMARY KEY ("table_name","direction")
);

-- CreateTable
CREATE TABLE "sync_runs" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "table_name" TEXT,
    "direction" TEXT,
    "parent_id" TEXT,
    "workflow_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(6),
    "rows_read" INTEGER NOT NULL DEFAULT 0,
    "rows_written" INTEGER NOT NULL DEFAULT 0,
    "rows_unchanged" INTEGER NOT NULL DEFAULT 0,
    "rows_held_back" INTEGER NOT NULL DEFAULT 0,
    "conflicts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "details" JSONB,

    CONSTRAINT "sync_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_batches" (
    "batch_key" TEXT NOT NULL,
    "run_id" TEXT NOT NULL,
    "table_name" TEXT NOT NULL,
    "direction" TEXT NOT NULL,
    "result" JSONB NOT NULL,
    "applied_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_batches_pkey" PRIMARY KEY ("batch_key")
);

-- CreateTable
CREATE TABLE "sync_journal" (
    "id" BIGSERIAL NOT NULL,
    "run_id" TEXT NOT NULL,
    "batch_key" TEXT NOT NULL,
    "side" TEXT NOT NULL,
    "table_name" TEXT NOT NULL,
    "row_id" BIGINT NOT NULL,
    "legacy_id" INTEGER,
    "operation" TEXT NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_journal_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_row_state" (
    "table_name" TEXT NOT NULL,
    "legacy_id" INTEGER NOT NULL,
    "content_hash" TEXT NOT NULL,
    "new_updated_at" TIMESTAMPTZ(6),
    "synced_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_row_state_pkey" PRIMARY KEY ("table_name","legacy_id")
);

-- CreateTable
CREATE TABLE "sync_held_back" (
    "id" BIGSERIAL NOT NULL,
    "table_name" TEXT NOT NULL,
    "direction" TEXT NOT NULL,
    "row_id" BIGINT NOT NULL,
    "reason_kind" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "raw" JSONB NOT NULL,
    "content_hash" TEXT,
    "run_id" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 1,
    "first_seen_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(6),

    CONSTRAINT "sync_held_back_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_conflicts" (
    "id" BIGSERIAL NOT NULL,
    "run_id" TEXT NOT NULL,
    "table_name" TEXT NOT NULL,
    "legacy_id" INTEGER,
    "new_id" INTEGER,
    "rule" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "legacy_version" JSONB NOT NULL,
    "new_version" JSONB NOT NULL,
    "resolved" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_conflicts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "customers_customer_code_key" ON "customers"("customer_code");

-- CreateIndex
CREATE UNIQUE INDEX "customers_legacy_id_key" ON "customers"("legacy_id");

-- CreateIndex
CREATE UNIQUE INDEX "drivers_employee_no_key" ON "drivers"("employee_no");

-- CreateIndex
CREATE UNIQUE INDEX "drivers_legacy_id_key" ON "drivers"("legacy_id");

-- CreateIndex
CREATE UNIQUE INDEX "orders_legacy_id_key" ON "orders"("legacy_id");

-- CreateIndex
CREATE INDEX "orders_customer_id_idx" ON "orders"("customer_id");

-- CreateIndex
CREATE INDEX "orders_driver_id_idx" ON "orders"("driver_id");

-- CreateIndex
CREATE INDEX "sync_runs_table_name_started_at_idx" ON "sync_runs"("table_name", "started_at");

-- CreateIndex
CREATE INDEX "sync_runs_started_at_idx" ON "sync_runs"("started_at");

-- CreateIndex
CREATE INDEX "sync_batches_run_id_idx" ON "sync_batches"("run_id");

-- CreateIndex
CREATE INDEX "sync_journal_run_id_idx" ON "sync_journal"("run_id");

-- CreateIndex
CREATE INDEX "sync_journal_table_name_row_id_idx" ON "sync_journal"("table_name", "row_id");

-- CreateIndex
CREATE INDEX "sync_journal_created_at_idx" ON "sync_journal"("created_at");

-- CreateIndex
CREATE INDEX "sync_held_back_resolved_at_idx" ON "sync_held_back"("resolved_at");

-- CreateIndex
CREATE UNIQUE INDEX "sync_held_back_table_name_direction_row_id_key" ON "sync_held_back"("table_name", "direction", "row_id");

-- CreateIndex
CREATE INDEX "sync_conflicts_run_id_idx" ON "sync_conflicts"("run_id");

-- CreateIndex
CREATE INDEX "sync_conflicts_table_name_legacy_id_idx" ON "sync_conflicts"("table_name", "legacy_id");

-- AddForeignKey
ALTER TABLE "orders" ADD CONSTRAINT "orders_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "customers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "orders" ADD CONSTRAINT "orders_driver_id_fkey" FOREIGN KEY ("driver_id") REFERENCES "drivers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

