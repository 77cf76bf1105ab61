/*
 * hostile-sink-c: a C sink that misbehaves on request, for the tests that
 * show the sandbox holds for C as for every other language.
 *
 * Option `mode`:
 *   loop    `write` never returns (the call deadline stops it)
 *   alloc   `write` allocates without bound (the memory cap stops it)
 *   escape  `write` tries to read /etc/passwd and to write next to its
 *           grant (/data/../escaped.txt); it answers `rejected` naming what
 *           the host refused, or `accepted` if anything got through
 *   partial_past  answers `partial` counting more records than the batch
 *           holds (what `sinkbox check` must catch)
 *   bad_utf8  rejects each batch with a reason that is not UTF-8 (the SDK
 *           must hand the host valid text)
 *   (unset) a well-behaved sink that accepts everything
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinkbox_sink.h"

static char mode[32];
/* Every block allocated, chained, so the compiler cannot drop the work. */
static void *volatile kept;

static const char *const OPTIONS[] = {"mode", NULL};

const char *sink_start(const sb_config *config) {
  if (sb_config_unknown(config, OPTIONS)) return "the only option is `mode`: loop, alloc or escape";
  snprintf(mode, sizeof mode, "%s", sb_config_get_or(config, "mode", ""));
  return NULL;
}

sb_outcome sink_write(const sb_batch *batch) {
  if (strcmp(mode, "loop") == 0) {
    volatile unsigned long spins = 0;
    for (;;) spins++;
  }
  if (strcmp(mode, "alloc") == 0) {
    for (;;) {
      char *block = malloc(1 << 20);
      if (block == NULL) abort(); /* what C code does when memory runs out */
      memset(block, 1, 1 << 20);
      *(void **)block = kept;
      kept = block;
    }
  }
  if (strcmp(mode, "partial_past") == 0) return sb_partial(batch->count + 5, "counted wrong");
  if (strcmp(mode, "bad_utf8") == 0) return sb_rejected("not utf-8: \xff\xfe\xc3 end");
  if (strcmp(mode, "escape") == 0) {
    char reason[512];
    FILE *secret = fopen("/etc/passwd", "r");
    int read_errno = errno;
    FILE *outside = fopen("/data/../escaped.txt", "w");
    int write_errno = errno;
    if (secret || outside) {
      if (secret) fclose(secret);
      if (outside) fclose(outside);
      return sb_accepted(); /* the test fails on this */
    }
    snprintf(reason, sizeof reason, "refused: reading /etc/passwd (%s), writing outside the grant (%s)",
             strerror(read_errno), strerror(write_errno));
    return sb_rejected(reason);
  }
  return sb_accepted();
}

sb_flush sink_flush(void) { return sb_flushed(); }

void sink_stop(void) {}

sb_health sink_health(void) { return sb_healthy(); }
