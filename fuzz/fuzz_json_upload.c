/* The upload-response parsers on arbitrary bytes: UploadXorbResponse, UploadShardResponse and
   the /v2/shards NDJSON events. data[0] picks the parser (bits 0-1: xorb, shard, event, event)
   and options (bit 2 max_depth 2, bit 3 max_string 8, bit 4 max_body 64); data[1] is the index
   of an allocation to fail (255: none). The rest is the body (a zstd frame is decompressed).
   Oracles: no crash/UB/leak; every allocation freed with its size; a failed allocation
   surfaces as CAS_E_NOMEM and nothing else does; an accepted result satisfies the documented
   invariants and is the same with and without allocation failures. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cas_json_desc o;
    cas_shard_event ev[2];
    t_counting fas[2];
    int kind, pass, rc[2] = {0, 0}, v[2] = {-1, -1};
    long fail_at;
    if (size < 2) return 0;
    memset(&o, 0, sizeof o);
    kind = data[0] & 3;
    if (data[0] & 4) o.max_depth = 2;
    if (data[0] & 8) o.max_string = 8;
    if (data[0] & 16) o.max_body = 64;
    fail_at = data[1] == 255 ? -1 : data[1];
    memset(ev, 0, sizeof ev);
    memset(fas, 0, sizeof fas);
    for (pass = 0; pass < 2; pass++) {
        t_counting *fa = &fas[pass];
        cas_allocator al = t_counting_allocator(fa, pass ? fail_at : -1);
        cas_error e;
        if (kind == 0) rc[pass] = cas_xorb_upload_parse(&al, data + 2, size - 2, &o, &v[pass], &e);
        else if (kind == 1) rc[pass] = cas_shard_upload_parse(&al, data + 2, size - 2, &o, &v[pass], &e);
        else rc[pass] = cas_shard_event_parse(&al, data + 2, size - 2, &o, &ev[pass], &e);
        REQUIRE(e.code == rc[pass] && rc[pass] <= 0);
        REQUIRE(fa->failed ? rc[pass] == CAS_E_NOMEM : rc[pass] != CAS_E_NOMEM);
        if (rc[pass] != CAS_OK) {
            REQUIRE(fa->live == 0 && ev[pass].priv_block == NULL && ev[pass].type == 0);
            if (kind < 2) REQUIRE(v[pass] == 0);
            continue;
        }
        if (kind < 2) {
            REQUIRE(fa->live == 0 && (v[pass] == 0 || v[pass] == 1));
        } else {
            const cas_shard_event *x = &ev[pass];
            REQUIRE(fa->live == (x->priv_block != NULL));
            REQUIRE(x->type >= CAS_SHARD_EVENT_OTHER && x->type <= CAS_SHARD_EVENT_ERROR);
            REQUIRE(x->stage >= 0 && x->stage <= CAS_SHARD_STAGE_SYNCING);
            REQUIRE(x->result == 0 || x->result == 1);
            REQUIRE((x->type == CAS_SHARD_EVENT_ERROR) == (x->message != NULL));
            if (x->message) REQUIRE(strlen(x->message) == x->message_len);
            if (x->type != CAS_SHARD_EVENT_VALIDATING) REQUIRE(x->verified == 0 && x->total == 0);
            if (x->type != CAS_SHARD_EVENT_COMMITTING) REQUIRE(x->stage == 0);
        }
    }
    if (rc[0] == CAS_OK && rc[1] == CAS_OK) { /* the same result either way */
        REQUIRE(v[0] == v[1] && ev[0].type == ev[1].type && ev[0].verified == ev[1].verified &&
                ev[0].total == ev[1].total && ev[0].stage == ev[1].stage && ev[0].result == ev[1].result &&
                ev[0].message_len == ev[1].message_len);
        if (ev[0].message) REQUIRE(!memcmp(ev[0].message, ev[1].message, ev[0].message_len));
    }
    if (!fas[1].failed) REQUIRE(rc[1] == rc[0]);
    for (pass = 0; pass < 2; pass++) {
        cas_shard_event_free(&ev[pass]);
        REQUIRE(fas[pass].live == 0);
    }
    return 0;
}
