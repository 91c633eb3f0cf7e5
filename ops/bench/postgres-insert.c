/*
 * Baseline for ops/bench/store on PostgreSQL: inserts the same ~1 KB message rows as StoreBench, in the same
 * batches (one transaction each), with one prepared libpq statement, into a database that `StoreBench
 * pg-prepare` created (so the schema, indexes and sequence are the store's). Each transaction takes the same
 * advisory lock the store's inserts take (the change feed's ordering), then runs the prepared INSERT once
 * per row. Rows are built before the clock starts; the clock covers the statements and the commits only.
 *
 * Usage: postgres-insert CONNINFO ROWS BATCH
 * Prints "inserts/s: N" (wall clock) and "inserts/cpu-s: N" (this process's CPU time).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keep in step with StoreBench's BenchRows and PostgresSchema (the lock is `PostgresSchema.sequenceLock`). */
static const char *insert_sql =
    "INSERT INTO message ("
    " connection_id, provider_message_id, folder, internet_message_id, conversation_id, subject,"
    " from_address, to_addresses, cc_addresses, received_at, sent_at, snippet, has_attachments, source,"
    " backfill_id, seq, stored_at"
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11::bigint, $12, $13::boolean, $14, $15,"
    " nextval('message_seq'), $16::bigint)"
    " ON CONFLICT (connection_id, provider_message_id) DO NOTHING";
static const char *snippet_text =
    "Hello team, here is the follow-up on the quarterly numbers we discussed on Monday. "
    "Revenue is up, costs are flat, and the forecast for next quarter looks steady. ";

struct row {
    char provider_id[32], internet_id[48], conversation_id[24], subject[48], from[64], snippet[801];
    char received_at[24], sent_at[24];
};

static void check(PGresult *result, PGconn *db, const char *what) {
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        fprintf(stderr, "postgres-insert: %s: %s\n", what, PQerrorMessage(db));
        exit(1);
    }
}

static void exec(PGconn *db, const char *sql) {
    PGresult *result = PQexec(db, sql);
    check(result, db, sql);
    PQclear(result);
}

static void make_row(struct row *r, int i) {
    snprintf(r->provider_id, sizeof r->provider_id, "AAMkAGI2TG93AAA-%08d", i);
    snprintf(r->internet_id, sizeof r->internet_id, "<%08d.bench@mail.example.com>", i);
    snprintf(r->conversation_id, sizeof r->conversation_id, "conv-%06d", i / 4);
    snprintf(r->subject, sizeof r->subject, "Quarterly report follow-up %d", i);
    snprintf(r->from, sizeof r->from, "\"Sender %d\" <sender%d@example.com>", i % 97, i % 97);
    int n = snprintf(r->snippet, sizeof r->snippet, "%08d ", i);
    size_t text_length = strlen(snippet_text);
    while (n < 800) {
        size_t take = text_length < (size_t)(800 - n) ? text_length : (size_t)(800 - n);
        memcpy(r->snippet + n, snippet_text, take);
        n += (int)take;
    }
    r->snippet[800] = '\0';
    long long received_at = 1700000000000LL - (long long)i * 60000LL;
    snprintf(r->received_at, sizeof r->received_at, "%lld", received_at);
    snprintf(r->sent_at, sizeof r->sent_at, "%lld", received_at - 5000);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: postgres-insert CONNINFO ROWS BATCH\n");
        return 2;
    }
    int rows = atoi(argv[2]), batch = atoi(argv[3]);
    if (rows <= 0 || batch <= 0) {
        fprintf(stderr, "postgres-insert: ROWS and BATCH must be positive\n");
        return 2;
    }
    struct row *all = malloc(sizeof(struct row) * (size_t)rows);
    if (all == NULL) return 1;
    for (int i = 0; i < rows; i++) make_row(&all[i], i);

    PGconn *db = PQconnectdb(argv[1]);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "postgres-insert: cannot connect: %s\n", PQerrorMessage(db));
        return 1;
    }
    PGresult *prepared = PQprepare(db, "insert_message", insert_sql, 16, NULL);
    check(prepared, db, "prepare");
    PQclear(prepared);

    struct timespec start, end, cpu_start, cpu_end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
    long long inserted = 0;
    for (int first = 0; first < rows; first += batch) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char stored_at[24];
        snprintf(stored_at, sizeof stored_at, "%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        exec(db, "BEGIN");
        exec(db, "SELECT pg_advisory_xact_lock(4783213592175012866)");
        for (int i = first; i < first + batch && i < rows; i++) {
            struct row *r = &all[i];
            const char *values[16] = {
                "bench-connection", r->provider_id, i % 5 == 0 ? "sent" : "inbox", r->internet_id,
                r->conversation_id, r->subject, r->from, "[\"alice@example.com\",\"bob@example.com\"]", "[]",
                r->received_at, r->sent_at, r->snippet, "false", "backfill", NULL, stored_at,
            };
            PGresult *result = PQexecPrepared(db, "insert_message", 16, values, NULL, NULL, 0);
            check(result, db, "insert");
            inserted += atoll(PQcmdTuples(result));
            PQclear(result);
        }
        exec(db, "COMMIT");
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    double cpu_seconds =
        (double)(cpu_end.tv_sec - cpu_start.tv_sec) + (double)(cpu_end.tv_nsec - cpu_start.tv_nsec) / 1e9;
    if (inserted != rows) {
        fprintf(stderr, "postgres-insert: %lld new rows, expected %d\n", inserted, rows);
        return 1;
    }
    printf("inserts/s: %.0f\ninserts/cpu-s: %.0f\n", rows / seconds, rows / cpu_seconds);
    PQfinish(db);
    free(all);
    return 0;
}
