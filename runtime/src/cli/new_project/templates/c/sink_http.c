/*
 * {{name}}: a sinkbox sink in C that posts every batch to a URL as one
 * JSON array, over the host's wasi:http (sinkbox_http.h). It reaches only
 * what the operator granted (`http_allow`); headers the operator injects
 * (secrets among them) are added by the host and never seen here. Replace
 * the body or the answers with what your destination expects.
 *
 * Options (the sink's `config` table, or `--config key=value`):
 *   url   where batches go (required; it must be in `http_allow`)
 *
 * Answers: 2xx accepted; 408, 429 and 5xx retryable (after the server's
 * Retry-After, when it sends one); any other status rejected with the
 * server's answer (the batch is dead-lettered); a request the grant
 * refuses is rejected too; one sent that got no answer is indeterminate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinkbox_http.h"
#include "sinkbox_sink.h"

static const char *const OPTIONS[] = {"url", NULL};

static char url[2048];
static unsigned long long posted;

const char *sink_start(const sb_config *config) {
  if (sb_config_unknown(config, OPTIONS)) return "the only option is `url`: where batches are posted";
  const char *given = sb_config_get(config, "url");
  if (given == NULL) return "`url` is required: where batches are posted";
  snprintf(url, sizeof url, "%s", given);
  return NULL;
}

sb_outcome sink_write(const sb_batch *batch) {
  /* [record,record,...]: the records with commas for their newlines. */
  size_t len = batch->records.len;
  uint8_t *body = malloc(len + 2);
  if (body == NULL) return sb_retryable("out of memory");
  size_t at = 0;
  body[at++] = '[';
  size_t offset = 0;
  sb_bytes record;
  for (bool first = true; sb_next_record(batch, &offset, &record); first = false) {
    if (!first) body[at++] = ',';
    memcpy(body + at, record.ptr, record.len);
    at += record.len;
  }
  body[at++] = ']';

  char why[256];
  sb_http_response answer;
  sb_http_result result = sb_http_post(url, "application/json", body, at, &answer, why, sizeof why);
  free(body);
  switch (result) {
    case SB_HTTP_DENIED: {
      char reason[300];
      snprintf(reason, sizeof reason, "the host refused the request: %s", why);
      return sb_rejected(reason);
    }
    case SB_HTTP_BAD_URL: return sb_rejected(why);
    case SB_HTTP_SENT_NO_ANSWER: return sb_indeterminate(why);
    case SB_HTTP_NO_ANSWER: return sb_retryable(why);
    case SB_HTTP_ANSWERED: break;
  }
  char reason[300];
  snprintf(reason, sizeof reason, "HTTP %u: %.200s", (unsigned)answer.status, answer.body);
  sb_outcome outcome;
  if (answer.status >= 200 && answer.status < 300) {
    posted += batch->count;
    outcome = sb_accepted();
  } else if (answer.status == 408 || answer.status == 429 || answer.status >= 500) {
    outcome = answer.retry_after_s >= 0 ? sb_retry_after((uint64_t)answer.retry_after_s * 1000, reason)
                                        : sb_retryable(reason);
  } else {
    outcome = sb_rejected(reason);
  }
  sb_http_response_free(&answer);
  return outcome;
}

sb_flush sink_flush(void) {
  sb_log(SB_INFO, "posted %llu record(s)", posted);
  return sb_flushed();
}

void sink_stop(void) {}

sb_health sink_health(void) { return sb_healthy(); }
