/* Separate objects on separate threads, with no locking by the caller: what the header's
   "Threading" rule promises. Built and run under ThreadSanitizer by make check (tests/check.sh),
   where any unsynchronised access to shared state (the CPU-feature caches of cas.h and of the
   vendored BLAKE3: every thread's first hash reads them) fails the run. */
#define _POSIX_C_SOURCE 200112L /* pthread_barrier_t */
#define CAS_IMPLEMENTATION
#include "../cas.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { THREADS = 4, BYTES = 300000 };

/* All threads make their first library calls at once: ThreadSanitizer remembers only the
   last few accesses to each word, so a shared cache read thousands of times by the first
   thread before the others start could hide the write that races. */
static pthread_barrier_t start;

typedef struct {
    int id;
    cas_hash file_hash;
    uint8_t sha[32];
    size_t chunks;
} worker;

static void fill(uint8_t *p, size_t n, uint32_t seed) {
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void *work(void *arg) {
    worker *w = (worker *)arg;
    static uint8_t data[THREADS][BYTES];
    static cas_chunk_stream cs[THREADS];
    static cas_merkle tree[THREADS];
    uint8_t *p = data[w->id];
    cas_sha256 sha;
    cas_chunk c;
    size_t off = 0;
    uint8_t first[32];
    pthread_barrier_wait(&start);
    cas_sha256_hash("abc", 3, first); /* each thread's first use of the CPU-feature cache */
    fill(p, BYTES, 7); /* the same bytes on every thread: the results must agree */
    cas_sha256_init(&sha);
    cas_sha256_update(&sha, p, BYTES);
    cas_sha256_final(&sha, w->sha);
    cas_chunk_stream_init(&cs[w->id]);
    cas_merkle_init(&tree[w->id]);
    while (off < BYTES) {
        off += cas_chunk_stream_push(&cs[w->id], p + off, BYTES - off, &c);
        if (c.size) cas_merkle_push(&tree[w->id], &c), w->chunks++;
    }
    if (cas_chunk_stream_finish(&cs[w->id], &c)) cas_merkle_push(&tree[w->id], &c), w->chunks++;
    cas_merkle_file_hash(&tree[w->id], &w->file_hash);
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    worker w[THREADS];
    int i, fails = 0;
    memset(w, 0, sizeof w);
    if (pthread_barrier_init(&start, NULL, THREADS) != 0) return 1;
    for (i = 0; i < THREADS; i++) {
        w[i].id = i;
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0) return 1;
    }
    for (i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (i = 0; i < THREADS; i++) {
        if (!w[i].chunks || memcmp(&w[i].file_hash, &w[0].file_hash, sizeof w[0].file_hash) ||
            w[i].chunks != w[0].chunks || memcmp(w[i].sha, w[0].sha, 32)) {
            printf("FAIL: thread %d's hashes differ from thread 0's\n", i);
            fails++;
        }
    }
    printf("threads: %d threads hashed the same bytes alike, %d failed\n", THREADS, fails);
    return fails != 0;
}
