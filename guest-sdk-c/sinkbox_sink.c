/*
 * sinkbox_sink.c: the component's exports, over the five functions of
 * sinkbox_sink.h. Compiled with the bindings `wit-bindgen c` generates
 * (sink_world.h/.c) and the sink's own file.
 *
 * Ownership, as the canonical ABI has it: an export's arguments are the
 * callee's (freed here once the sink has seen them), and every text or
 * list it returns is freed by the generated post-return code, so it is
 * always a fresh malloc'd copy, never the sink's own memory.
 */
#include "sinkbox_sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bindings of the world the sink is built for: `sink-world`, or
 * `sink-world-http` (built with -DSINKBOX_WORLD_HTTP, with sinkbox_http.c),
 * whose types carry the world's name. */
#ifdef SINKBOX_WORLD_HTTP
#include "sink_world_http.h"
typedef sink_world_http_string_t sink_world_string_t;
#else
#include "sink_world.h"
#endif

/* The host cuts every text it lifts to 4 KiB; longer copies are wasted. */
#define SB_TEXT_MAX 4096

enum {
  SB_RANGE_RETRYABLE = SINKBOX_SINK_0_2_0_TYPES_RECORD_RESULT_RETRYABLE,
  SB_RANGE_REJECTED = SINKBOX_SINK_0_2_0_TYPES_RECORD_RESULT_REJECTED,
};

struct sb_range {
  uint32_t start;
  uint32_t end;
  uint8_t kind;
  char *reason;
};

struct sb_config {
  char **keys;
  char **values;
  size_t len;
};

static sb_config current_config;

/* The length of the valid UTF-8 sequence at `s` (at most `left` bytes
 * long), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t left) {
  unsigned char c = s[0];
  size_t len;
  uint32_t min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
  else return 0;
  if (len > left) return 0;
  uint32_t point = c & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    point = (point << 6) | (s[i] & 0x3F);
  }
  if (point < min || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF)) return 0;
  return len;
}

/* A malloc'd copy of `text` the host may own: at most SB_TEXT_MAX bytes,
 * cut at a character boundary, every byte that is not UTF-8 replaced by
 * '?' (the host would refuse the whole string otherwise). */
static char *owned_text(const char *text, size_t *out_len) {
  if (text == NULL) text = "";
  size_t len = strnlen(text, SB_TEXT_MAX);
  char *copy = malloc(len + 1);
  if (copy == NULL) abort();
  const unsigned char *in = (const unsigned char *)text;
  size_t at = 0;
  while (at < len) {
    size_t step = utf8_sequence(in + at, len - at);
    if (step == 0) {
      copy[at] = '?';
      at += 1;
    } else {
      memcpy(copy + at, in + at, step);
      at += step;
    }
  }
  copy[len] = '\0';
  if (out_len) *out_len = len;
  return copy;
}

static sink_world_string_t host_string(char *owned) {
  sink_world_string_t s;
  s.ptr = (uint8_t *)owned;
  s.len = strlen(owned);
  return s;
}

static sink_world_string_t text_for_host(const char *text) {
  size_t len;
  char *owned = owned_text(text, &len);
  sink_world_string_t s = {(uint8_t *)owned, len};
  return s;
}

bool sb_next_record(const sb_batch *batch, size_t *offset, sb_bytes *record) {
  if (*offset >= batch->records.len) return false;
  const uint8_t *start = batch->records.ptr + *offset;
  size_t left = batch->records.len - *offset;
  const uint8_t *newline = memchr(start, '\n', left);
  size_t len = newline ? (size_t)(newline - start) : left;
  record->ptr = start;
  record->len = len;
  *offset += len + (newline ? 1 : 0);
  return true;
}

/* --- configuration ------------------------------------------------------ */

static char *copy_bytes(const uint8_t *ptr, size_t len) {
  char *copy = malloc(len + 1);
  if (copy == NULL) abort();
  memcpy(copy, ptr, len);
  copy[len] = '\0';
  return copy;
}

static void config_clear(sb_config *config) {
  for (size_t i = 0; i < config->len; i++) {
    free(config->keys[i]);
    free(config->values[i]);
  }
  free(config->keys);
  free(config->values);
  config->keys = NULL;
  config->values = NULL;
  config->len = 0;
}

const char *sb_config_get(const sb_config *config, const char *key) {
  const char *found = NULL;
  for (size_t i = 0; i < config->len; i++) {
    if (strcmp(config->keys[i], key) == 0) found = config->values[i]; /* the last one wins */
  }
  return found;
}

const char *sb_config_get_or(const sb_config *config, const char *key, const char *fallback) {
  const char *value = sb_config_get(config, key);
  return value ? value : fallback;
}

const char *sb_config_unknown(const sb_config *config, const char *const *known) {
  for (size_t i = 0; i < config->len; i++) {
    bool listed = false;
    for (const char *const *k = known; *k != NULL; k++) {
      if (strcmp(*k, config->keys[i]) == 0) listed = true;
    }
    if (!listed) return config->keys[i];
  }
  return NULL;
}

/* --- outcomes ----------------------------------------------------------- */

static sb_outcome outcome(uint8_t kind, const char *reason) {
  sb_outcome o;
  memset(&o, 0, sizeof o);
  o.kind = kind;
  o.reason = reason ? owned_text(reason, NULL) : NULL;
  return o;
}

sb_outcome sb_accepted(void) { return outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_ACCEPTED, NULL); }
sb_outcome sb_retryable(const char *reason) { return outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_RETRYABLE, reason); }
sb_outcome sb_rejected(const char *reason) { return outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_REJECTED, reason); }
sb_outcome sb_indeterminate(const char *reason) { return outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_INDETERMINATE, reason); }
sb_outcome sb_fatal(const char *reason) { return outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_FATAL, reason); }

sb_outcome sb_retry_after(uint64_t wait_ms, const char *reason) {
  sb_outcome o = outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_RETRY_AFTER, reason);
  o.wait_ms = wait_ms;
  return o;
}

sb_outcome sb_partial(uint32_t accepted, const char *reason) {
  sb_outcome o = outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_PARTIAL, reason);
  o.accepted = accepted;
  return o;
}

sb_outcome sb_per_record(void) { return outcome(SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_PER_RECORD, NULL); }

static void add_range(sb_outcome *o, uint32_t start, uint32_t end, uint8_t kind, const char *reason) {
  if (o->kind != SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_PER_RECORD || start >= end) return;
  if (o->range_count == o->range_capacity) {
    size_t capacity = o->range_capacity ? o->range_capacity * 2 : 4;
    struct sb_range *grown = realloc(o->ranges, capacity * sizeof *grown);
    if (grown == NULL) abort();
    o->ranges = grown;
    o->range_capacity = capacity;
  }
  struct sb_range *r = &o->ranges[o->range_count++];
  r->start = start;
  r->end = end;
  r->kind = kind;
  r->reason = owned_text(reason, NULL);
}

void sb_reject_records(sb_outcome *o, uint32_t start, uint32_t end, const char *reason) {
  add_range(o, start, end, SB_RANGE_REJECTED, reason);
}

void sb_retry_records(sb_outcome *o, uint32_t start, uint32_t end, const char *reason) {
  add_range(o, start, end, SB_RANGE_RETRYABLE, reason);
}

void sb_discard(sb_outcome *o) {
  for (size_t i = 0; i < o->range_count; i++) free(o->ranges[i].reason);
  free(o->ranges);
  free(o->reason);
  memset(o, 0, sizeof *o);
}

sb_flush sb_flushed(void) { sb_flush f = {SINKBOX_SINK_0_2_0_TYPES_FLUSH_OUTCOME_DONE, NULL}; return f; }
sb_flush sb_flush_retryable(const char *reason) {
  sb_flush f = {SINKBOX_SINK_0_2_0_TYPES_FLUSH_OUTCOME_RETRYABLE, owned_text(reason, NULL)};
  return f;
}
sb_flush sb_flush_fatal(const char *reason) {
  sb_flush f = {SINKBOX_SINK_0_2_0_TYPES_FLUSH_OUTCOME_FATAL, owned_text(reason, NULL)};
  return f;
}

sb_health sb_healthy(void) { sb_health h = {SINKBOX_SINK_0_2_0_TYPES_HEALTH_STATUS_HEALTHY, NULL}; return h; }
sb_health sb_degraded(const char *reason) {
  sb_health h = {SINKBOX_SINK_0_2_0_TYPES_HEALTH_STATUS_DEGRADED, owned_text(reason, NULL)};
  return h;
}
sb_health sb_unhealthy(const char *reason) {
  sb_health h = {SINKBOX_SINK_0_2_0_TYPES_HEALTH_STATUS_UNHEALTHY, owned_text(reason, NULL)};
  return h;
}

void sb_log(sb_level level, const char *format, ...) {
  char line[SB_TEXT_MAX + 1];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof line, format, args);
  va_end(args);
  char *owned = owned_text(line, NULL);
  sink_world_string_t message = host_string(owned);
  sinkbox_sink_0_2_0_host_log((sinkbox_sink_0_2_0_host_level_t)level, &message);
  free(owned);
}

/* --- the exports -------------------------------------------------------- */

bool exports_sinkbox_sink_0_2_0_sink_start(exports_sinkbox_sink_0_2_0_sink_config_t *config,
                                           sink_world_string_t *err) {
  config_clear(&current_config);
  current_config.len = config->len;
  current_config.keys = calloc(config->len ? config->len : 1, sizeof(char *));
  current_config.values = calloc(config->len ? config->len : 1, sizeof(char *));
  if (current_config.keys == NULL || current_config.values == NULL) abort();
  for (size_t i = 0; i < config->len; i++) {
    current_config.keys[i] = copy_bytes(config->ptr[i].f0.ptr, config->ptr[i].f0.len);
    current_config.values[i] = copy_bytes(config->ptr[i].f1.ptr, config->ptr[i].f1.len);
  }
  exports_sinkbox_sink_0_2_0_sink_config_free(config);
  const char *why = sink_start(&current_config);
  if (why == NULL) return true;
  *err = text_for_host(why);
  return false;
}

static sink_world_string_t take_reason(char *reason) {
  return host_string(reason ? reason : owned_text("", NULL));
}

void exports_sinkbox_sink_0_2_0_sink_write(exports_sinkbox_sink_0_2_0_sink_batch_t *batch,
                                           exports_sinkbox_sink_0_2_0_sink_write_outcome_t *ret) {
  sb_batch view;
  view.records.ptr = batch->records.ptr;
  view.records.len = batch->records.len;
  view.count = batch->count;
  view.first_sequence = batch->first_sequence;
  sb_outcome o = sink_write(&view);
  /* The records were allocated for this call (cabi_realloc is malloc); an
   * empty list was not allocated at all. */
  if (batch->records.len > 0) free(batch->records.ptr);

  memset(ret, 0, sizeof *ret);
  ret->tag = o.kind;
  switch (o.kind) {
    case SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_ACCEPTED:
      free(o.reason);
      break;
    case SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_RETRY_AFTER:
      ret->val.retry_after.reason = take_reason(o.reason);
      ret->val.retry_after.wait_ms = o.wait_ms;
      break;
    case SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_PARTIAL:
      ret->val.partial.reason = take_reason(o.reason);
      ret->val.partial.accepted = o.accepted;
      break;
    case SINKBOX_SINK_0_2_0_TYPES_WRITE_OUTCOME_PER_RECORD: {
      free(o.reason);
      sinkbox_sink_0_2_0_types_record_results_t *results = &ret->val.per_record;
      results->ranges.len = o.range_count;
      results->ranges.ptr = o.range_count ? malloc(o.range_count * sizeof *results->ranges.ptr) : NULL;
      if (o.range_count && results->ranges.ptr == NULL) abort();
      for (size_t i = 0; i < o.range_count; i++) {
        sinkbox_sink_0_2_0_types_result_range_t *r = &results->ranges.ptr[i];
        memset(r, 0, sizeof *r);
        r->start = o.ranges[i].start;
        r->end = o.ranges[i].end;
        r->outcome.tag = o.ranges[i].kind;
        if (o.ranges[i].kind == SB_RANGE_REJECTED) {
          r->outcome.val.rejected = host_string(o.ranges[i].reason);
        } else {
          r->outcome.val.retryable = host_string(o.ranges[i].reason);
        }
      }
      free(o.ranges);
      results->retry_after_ms.is_some = false;
      results->warning.is_some = false;
      break;
    }
    default: /* retryable, rejected, indeterminate, fatal: a reason each */
      ret->val.retryable = take_reason(o.reason);
      break;
  }
}

void exports_sinkbox_sink_0_2_0_sink_flush(exports_sinkbox_sink_0_2_0_sink_flush_outcome_t *ret) {
  sb_flush f = sink_flush();
  memset(ret, 0, sizeof *ret);
  ret->tag = f.kind;
  if (f.kind == SINKBOX_SINK_0_2_0_TYPES_FLUSH_OUTCOME_DONE) {
    free(f.reason);
  } else {
    ret->val.retryable = take_reason(f.reason);
  }
}

void exports_sinkbox_sink_0_2_0_sink_stop(void) {
  sink_stop();
  config_clear(&current_config);
}

void exports_sinkbox_sink_0_2_0_sink_health(exports_sinkbox_sink_0_2_0_sink_health_status_t *ret) {
  sb_health h = sink_health();
  memset(ret, 0, sizeof *ret);
  ret->tag = h.kind;
  if (h.kind == SINKBOX_SINK_0_2_0_TYPES_HEALTH_STATUS_HEALTHY) {
    free(h.reason);
  } else {
    ret->val.degraded = take_reason(h.reason);
  }
}
