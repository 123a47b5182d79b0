/* Linked into a program built with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
   (make's build/examples/firmware): every call that the program's own objects make to the
   heap lands here and aborts. libc's calls inside libc are not redirected (fopen may still
   allocate its buffer). */
#include <stdlib.h>
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_malloc(size_t n) { (void)n; abort(); }
void *__wrap_calloc(size_t n, size_t m) { (void)n, (void)m; abort(); }
void *__wrap_realloc(void *p, size_t n) { (void)p, (void)n; abort(); }
void __wrap_free(void *p) { (void)p; abort(); }
