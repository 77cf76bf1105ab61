/*
 * {{name}}: a sinkbox sink in C. It appends every record that is a JSON
 * object to a file in the directory the operator granted it, one line
 * each, and refuses any other record on its own (the host dead-letters it
 * with the reason). Replace `sink_write` with what your sink does;
 * sinkbox_sink.h lists every answer it can give.
 *
 * Options (the sink's `config` table, or `--config key=value`):
 *   path   the output file, inside the grant (default: /data/out.ndjson)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sinkbox_sink.h"

static const char *const OPTIONS[] = {"path", NULL};

static FILE *out;
static char path[1024];
static unsigned long long written;
static char error[1200];

const char *sink_start(const sb_config *config) {
  const char *unknown = sb_config_unknown(config, OPTIONS);
  if (unknown) {
    snprintf(error, sizeof error, "unknown option `%s`; the only option is `path`", unknown);
    return error;
  }
  snprintf(path, sizeof path, "%s", sb_config_get_or(config, "path", "/data/out.ndjson"));
  out = fopen(path, "ab");
  if (out == NULL) {
    snprintf(error, sizeof error, "cannot open `%s`: %s; grant the sink a directory and point `path` inside it",
             path, strerror(errno));
    return error;
  }
  return NULL;
}

sb_outcome sink_write(const sb_batch *batch) {
  sb_outcome answer = sb_per_record();
  bool refused = false;
  size_t offset = 0;
  sb_bytes record;
  for (uint32_t i = 0; sb_next_record(batch, &offset, &record); i++) {
    /* A record is one JSON value; this sink takes objects only. */
    if (record.len == 0 || record.ptr[0] != '{') {
      sb_reject_records(&answer, i, i + 1, "not a JSON object");
      refused = true;
      continue;
    }
    if (fwrite(record.ptr, 1, record.len, out) != record.len || fputc('\n', out) == EOF) {
      char reason[1200];
      snprintf(reason, sizeof reason, "cannot write `%s`: %s", path, strerror(errno));
      sb_retry_records(&answer, i, batch->count, reason);
      return answer;
    }
    written++;
  }
  if (refused) return answer;
  sb_discard(&answer);
  return sb_accepted();
}

sb_flush sink_flush(void) {
  if (fflush(out) != 0) return sb_flush_retryable(strerror(errno));
  sb_log(SB_INFO, "%llu record(s) so far in %s", written, path);
  return sb_flushed();
}

void sink_stop(void) {
  if (out) fclose(out);
  out = NULL;
}

sb_health sink_health(void) { return sb_healthy(); }
