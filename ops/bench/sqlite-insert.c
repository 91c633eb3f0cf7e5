/*
 * Baseline for ops/bench/store: inserts the same ~1 KB message rows as StoreBench, in the same batches (one
 * transaction each), with one prepared libsqlite3 statement and the store's own INSERT, into a file that
 * `StoreBench prepare` created (so the schema and indexes are the store's). WAL, synchronous=NORMAL, as
 * GRDB sets them. Rows are built before the clock starts; the clock covers bind, step and commit only.
 *
 * Usage: sqlite-insert PATH ROWS BATCH
 * Prints "inserts/s: N" (wall clock) and "inserts/cpu-s: N" (process CPU time, steadier on a busy machine).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keep in step with StoreBench's BenchRows. */
static const char *insert_sql =
    "INSERT INTO message ("
    " connection_id, provider_message_id, folder, internet_message_id, conversation_id, subject,"
    " from_address, to_addresses, cc_addresses, received_at, sent_at, snippet, has_attachments, source,"
    " stored_at"
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (connection_id, provider_message_id) DO NOTHING";
static const char *snippet_text =
    "Hello team, here is the follow-up on the quarterly numbers we discussed on Monday. "
    "Revenue is up, costs are flat, and the forecast for next quarter looks steady. ";

struct row {
    char provider_id[32], internet_id[48], conversation_id[24], subject[48], from[64], snippet[801];
    long long received_at;
};

static void check(int code, sqlite3 *db, const char *what) {
    if (code != SQLITE_OK && code != SQLITE_DONE) {
        fprintf(stderr, "sqlite-insert: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static void exec(sqlite3 *db, const char *sql) { check(sqlite3_exec(db, sql, NULL, NULL, NULL), db, sql); }

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
    r->received_at = 1700000000000LL - (long long)i * 60000LL;
}

static void bind_text(sqlite3_stmt *statement, int index, const char *text) {
    sqlite3_bind_text(statement, index, text, -1, SQLITE_STATIC);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: sqlite-insert PATH ROWS BATCH\n");
        return 2;
    }
    int rows = atoi(argv[2]), batch = atoi(argv[3]);
    if (rows <= 0 || batch <= 0) {
        fprintf(stderr, "sqlite-insert: ROWS and BATCH must be positive\n");
        return 2;
    }
    struct row *all = malloc(sizeof(struct row) * (size_t)rows);
    if (all == NULL) return 1;
    for (int i = 0; i < rows; i++) make_row(&all[i], i);

    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "sqlite-insert: cannot open %s\n", argv[1]);
        return 1;
    }
    exec(db, "PRAGMA journal_mode = WAL");
    exec(db, "PRAGMA synchronous = NORMAL");
    sqlite3_stmt *insert;
    check(sqlite3_prepare_v2(db, insert_sql, -1, &insert, NULL), db, "prepare");

    struct timespec start, end, cpu_start, cpu_end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
    long long inserted = 0;
    for (int first = 0; first < rows; first += batch) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long stored_at = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        exec(db, "BEGIN IMMEDIATE");
        for (int i = first; i < first + batch && i < rows; i++) {
            struct row *r = &all[i];
            bind_text(insert, 1, "bench-connection");
            bind_text(insert, 2, r->provider_id);
            bind_text(insert, 3, i % 5 == 0 ? "sent" : "inbox");
            bind_text(insert, 4, r->internet_id);
            bind_text(insert, 5, r->conversation_id);
            bind_text(insert, 6, r->subject);
            bind_text(insert, 7, r->from);
            bind_text(insert, 8, "[\"alice@example.com\",\"bob@example.com\"]");
            bind_text(insert, 9, "[]");
            sqlite3_bind_int64(insert, 10, r->received_at);
            sqlite3_bind_int64(insert, 11, r->received_at - 5000);
            bind_text(insert, 12, r->snippet);
            sqlite3_bind_int(insert, 13, 0);
            bind_text(insert, 14, "backfill");
            sqlite3_bind_int64(insert, 15, stored_at);
            check(sqlite3_step(insert), db, "insert");
            inserted += sqlite3_changes(db);
            sqlite3_reset(insert);
        }
        exec(db, "COMMIT");
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    double cpu_seconds =
        (double)(cpu_end.tv_sec - cpu_start.tv_sec) + (double)(cpu_end.tv_nsec - cpu_start.tv_nsec) / 1e9;
    if (inserted != rows) {
        fprintf(stderr, "sqlite-insert: %lld new rows, expected %d\n", inserted, rows);
        return 1;
    }
    printf("inserts/s: %.0f\ninserts/cpu-s: %.0f\n", rows / seconds, rows / cpu_seconds);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    free(all);
    return 0;
}
