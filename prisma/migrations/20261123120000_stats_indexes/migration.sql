-- CreateIndex
CREATE INDEX "MessageEvent_status_occurredAt_idx" ON "MessageEvent"("status", "occurredAt");
