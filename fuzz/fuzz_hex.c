/* cas_hash_from_hex on arbitrary bytes: accepts exactly 64 hex digits, and what it accepts
   prints back as the same digits in lower case. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cas_hash h;
    char hex[65];
    size_t i;
    int rc = cas_hash_from_hex((const char *)data, size, &h);
    int valid = size == 64;
    for (i = 0; valid && i < size; i++) {
        uint8_t c = data[i];
        valid = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    if ((rc == CAS_OK) != valid) abort();
    if (rc == CAS_OK) {
        cas_hash_to_hex(&h, hex);
        for (i = 0; i < 64; i++) {
            char c = (char)data[i];
            if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
            if (hex[i] != c) abort();
        }
    }
    return 0;
}
