/* download_curl.c - a file from the Hugging Face Hub, with the host's own HTTP: libcurl's
   easy API performs the requests the sans-I/O download engine asks for.

   Usage: [HF_TOKEN=hf_...] download_curl ENDPOINT REPO PATH OUT     (cc ... -lcurl)
          e.g. download_curl https://huggingface.co openai-community/gpt2 model.safetensors gpt2.st

   The steps of a Xet download (download-protocol.md, auth.md):
     1. resolve   HEAD ENDPOINT/REPO/resolve/main/PATH, not following the redirect: its
                  X-Xet-Hash header is the file's Xet hash
     2. token     GET ENDPOINT/api/models/REPO/xet-read-token/main -> accessToken, casUrl
     3. manifest  GET casUrl/v2/reconstructions/HASH -> terms and signed xorb URLs
     4. requests  the engine hands out URL + Range; we GET each and push the body in
     5. the file  the engine decodes chunks, writes the file in order, and at the end checks
                  the Xet hash of all of it (CAS_END), so a lying server cannot pass
   A model repo's main branch only; no retries, parallel requests, token refresh or resume:
   `cas get` (examples/cas.c) adds those around the same engine calls.
*/
#ifndef CAS_LINK_IMPL      /* (the Makefile links the implementation object it builds once) */
#define CAS_IMPLEMENTATION /* in exactly one .c file of a program */
#endif
#include "../cas.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *p; size_t len; } body;          /* a small response, in memory */
typedef struct { cas_download *d; uint32_t id; } push; /* a xorb range, into the engine */
typedef struct { cas_hash hash; int found; } resolved; /* the X-Xet-Hash header */

static size_t to_body(char *p, size_t size, size_t n, void *user) {
    body *b = (body *)user;
    char *q = (char *)realloc(b->p, b->len + size * n + 1);
    if (!q) return 0;
    memcpy(q + b->len, p, size * n);
    b->p = q, b->len += size * n, q[b->len] = 0;
    return size * n;
}
static size_t to_engine(char *p, size_t size, size_t n, void *user) {
    push *x = (push *)user; /* chunks are decoded as their records complete */
    return cas_download_push(x->d, x->id, p, size * n) == CAS_OK ? size * n : 0; /* 0: stop */
}
static size_t xet_hash(char *line, size_t size, size_t n, void *user) { /* each header line */
    const char *name = "x-xet-hash:";
    resolved *r = (resolved *)user;
    size_t i = 0, len = size * n;
    while (name[i] && i < len && tolower((unsigned char)line[i]) == name[i]) i++;
    if (name[i]) return len; /* another header */
    while (i < len && line[i] == ' ') i++;
    r->found = len - i >= 64 && cas_hash_from_hex(line + i, 64, &r->hash) == CAS_OK;
    return len;
}

/* GET url ("Authorization: Bearer token" unless NULL, "Range: range" if not NULL), the body
   to sink(user); sink NULL: HEAD, the headers to xet_hash(user). The HTTP status, or 0. */
static long http(const char *url, const char *token, const char *range, curl_write_callback sink,
                 void *user) {
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char line[128], *auth = token ? (char *)malloc(strlen(token) + 32) : NULL;
    long status = 0;
    if (auth) sprintf(auth, "Authorization: Bearer %s", token), h = curl_slist_append(h, auth);
    if (range && strlen(range) < 100) sprintf(line, "Range: %s", range), h = curl_slist_append(h, line);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L); /* >= 400: an error, no body to the sink */
    curl_easy_setopt(c, sink ? CURLOPT_WRITEFUNCTION : CURLOPT_HEADERFUNCTION, sink ? sink : xet_hash);
    curl_easy_setopt(c, sink ? CURLOPT_WRITEDATA : CURLOPT_HEADERDATA, user);
    curl_easy_setopt(c, CURLOPT_NOBODY, sink ? 0L : 1L);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h), free(auth), curl_easy_cleanup(c);
    return status;
}

static int write_out(void *user, const void *data, size_t len) { /* the file, in order */
    return fwrite(data, 1, len, (FILE *)user) == len ? 0 : CAS_E_ARGUMENT;
}

int main(int argc, char **argv) {
    char url[4096], hex[CAS_HASH_HEX_SIZE + 1];
    const char *hf = getenv("HF_TOKEN"), *failed = NULL;
    resolved file = {{{0}}, 0};
    body tok = {NULL, 0}, man = {NULL, 0};
    cas_xet_token token;
    cas_recon recon; /* the parsed manifest */
    cas_download_desc desc = {0};
    cas_download *d = NULL; cas_download_request q;
    cas_error err = {0, 0, ""};
    FILE *out = NULL; int rc = CAS_E_ARGUMENT;
    if (argc != 5) return fprintf(stderr, "usage: %s ENDPOINT REPO PATH OUT\n", argv[0]), 2;
    memset(&token, 0, sizeof token), memset(&recon, 0, sizeof recon); /* (free is then a no-op) */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(url, sizeof url, "%s/%s/resolve/main/%s", argv[1], argv[2], argv[3]); /* 1 */
    if (http(url, hf, NULL, NULL, &file) / 100 != 3 || !file.found) failed = "no X-Xet-Hash (no such file, or not in Xet)";
    snprintf(url, sizeof url, "%s/api/models/%s/xet-read-token/main", argv[1], argv[2]); /* 2 */
    if (!failed && (http(url, hf, NULL, to_body, &tok) != 200 ||
                    cas_xet_token_parse(NULL, tok.p, tok.len, NULL, &token, &err) != CAS_OK)) failed = "no token";
    cas_hash_to_hex(&file.hash, hex); /* 3 */
    if (!failed) snprintf(url, sizeof url, "%s/v2/reconstructions/%s", token.cas_url, hex);
    if (!failed && (http(url, token.access_token, NULL, to_body, &man) != 200 ||
                    cas_recon_parse(NULL, man.p, man.len, 2, NULL, &recon, &err) != CAS_OK)) failed = "no manifest";
    if (!failed && !(out = fopen(argv[4], "wb"))) failed = "cannot create OUT";
    desc.flags = CAS_DOWNLOAD_PER_RANGE; /* one range per request: no multipart bodies */
    desc.write = write_out, desc.user = out;
    desc.file_hash = &file.hash;
    if (!failed) rc = cas_download_create(NULL, &recon, &desc, &d, &err);
    while (rc == CAS_OK && (rc = cas_download_next(d, &q)) == CAS_READY) { /* 4 */
        push x; x.d = d, x.id = q.id;
        rc = cas_download_begin(d, q.id, NULL, 0); /* signed URL: no Authorization header */
        if (rc == CAS_OK) rc = http(q.url, NULL, q.range, to_engine, &x) == 206 ? CAS_OK : CAS_E_TRUNCATED;
        if (rc == CAS_OK) rc = cas_download_end(d, q.id);
        if (rc != CAS_OK && cas_download_error(d)->code) rc = cas_download_error(d)->code;
    }
    if (rc == CAS_END) printf("%s  %s\n", hex, argv[4]); /* 5: written and verified */
    else if (failed) fprintf(stderr, "%s: %s %s\n", argv[0], failed, err.what);
    else fprintf(stderr, "%s: %s %s\n", argv[0], cas_result_message(rc), d ? cas_download_error(d)->what : err.what);
    if (out) fclose(out);
    cas_download_free(d), cas_recon_free(&recon), cas_xet_token_free(&token);
    free(tok.p), free(man.p), curl_global_cleanup();
    return rc == CAS_END ? 0 : 1;
}
