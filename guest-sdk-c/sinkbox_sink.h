/*
 * sinkbox_sink.h: write a sinkbox sink in C (or C++).
 *
 * A sink implements five functions and nothing else; sinkbox_sink.c turns
 * them into the component's exports, copies every text it hands the host
 * into memory the host frees, replaces bytes that are not UTF-8, and frees
 * each batch after `sink_write` returns, so no canonical-ABI detail (who
 * owns which buffer, how a string is lowered) reaches the sink:
 *
 *   const char *sink_start(const sb_config *config);  // NULL, or why it cannot start
 *   sb_outcome  sink_write(const sb_batch *batch);
 *   sb_flush    sink_flush(void);
 *   void        sink_stop(void);
 *   sb_health   sink_health(void);
 *
 * A sink that sends over HTTP adds sinkbox_http.h/.c (`sb_http_post`).
 *
 * Build (see docs/writing-a-sink/c.md): `wit-bindgen c` generates
 * sink_world.c/.h from the contract in wit/, `zig cc -target wasm32-wasi
 * -mexec-model=reactor` compiles them with this file and yours, and
 * `wasm-tools component new --adapt` wraps the module into a component.
 */
#ifndef SINKBOX_SINK_H
#define SINKBOX_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes borrowed from the host for the length of a call: not NUL-terminated. */
typedef struct sb_bytes {
  const uint8_t *ptr;
  size_t len;
} sb_bytes;

/* A batch of records: newline-terminated compact JSON values. */
typedef struct sb_batch {
  sb_bytes records;        /* every record, each followed by one '\n' */
  uint32_t count;          /* how many records */
  uint64_t first_sequence; /* the pipeline sequence number of record 0 */
} sb_batch;

/* Steps through a batch: set *offset to 0 first; each call gives the next
 * record (without its '\n') and returns false after the last one. */
bool sb_next_record(const sb_batch *batch, size_t *offset, sb_bytes *record);

/* The sink's options (its `config` table), as NUL-terminated text owned by
 * the SDK and kept until the sink stops. */
typedef struct sb_config sb_config;

/* The value of `key`, or NULL when it is not set. */
const char *sb_config_get(const sb_config *config, const char *key);
/* The value of `key`, or `fallback`. */
const char *sb_config_get_or(const sb_config *config, const char *key, const char *fallback);
/* The first key not among `known` (a NULL-terminated list), or NULL. */
const char *sb_config_unknown(const sb_config *config, const char *const *known);

/* The answer to one `sink_write`. Build it with the functions below; each
 * copies its text, so a reason may live on the stack. */
typedef struct sb_outcome sb_outcome;
struct sb_outcome {
  uint8_t kind;
  uint32_t accepted;
  uint64_t wait_ms;
  char *reason;
  struct sb_range *ranges;
  size_t range_count;
  size_t range_capacity;
};

sb_outcome sb_accepted(void);
/* Nothing was delivered; the host sends the batch again later. */
sb_outcome sb_retryable(const char *reason);
/* As sb_retryable, not before `wait_ms` milliseconds (a server's Retry-After). */
sb_outcome sb_retry_after(uint64_t wait_ms, const char *reason);
/* The batch can never be delivered: it goes to the dead letters. */
sb_outcome sb_rejected(const char *reason);
/* The first `accepted` records were delivered (fewer than the batch holds);
 * the rest is sent again. */
sb_outcome sb_partial(uint32_t accepted, const char *reason);
/* The batch was sent and no answer came: it may or may not have arrived. */
sb_outcome sb_indeterminate(const char *reason);
/* The sink cannot go on: the host restarts it. */
sb_outcome sb_fatal(const char *reason);

/* Per-record answers: start with sb_per_record(), then name the records
 * that were not simply delivered, a range [start, end) at a time. */
sb_outcome sb_per_record(void);
void sb_reject_records(sb_outcome *outcome, uint32_t start, uint32_t end, const char *reason);
void sb_retry_records(sb_outcome *outcome, uint32_t start, uint32_t end, const char *reason);
/* Frees an outcome the sink built and decided not to return. */
void sb_discard(sb_outcome *outcome);

/* The answer to `sink_flush`. */
typedef struct sb_flush {
  uint8_t kind;
  char *reason;
} sb_flush;
sb_flush sb_flushed(void);
sb_flush sb_flush_retryable(const char *reason);
sb_flush sb_flush_fatal(const char *reason);

/* The answer to `sink_health`. */
typedef struct sb_health {
  uint8_t kind;
  char *reason;
} sb_health;
sb_health sb_healthy(void);
sb_health sb_degraded(const char *reason);
sb_health sb_unhealthy(const char *reason);

/* A line in the host's log, printf-style (cut to 4 KiB). */
typedef enum sb_level { SB_TRACE, SB_DEBUG, SB_INFO, SB_WARN, SB_ERROR } sb_level;
void sb_log(sb_level level, const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The five functions a sink implements. */
const char *sink_start(const sb_config *config);
sb_outcome sink_write(const sb_batch *batch);
sb_flush sink_flush(void);
void sink_stop(void);
sb_health sink_health(void);

#ifdef __cplusplus
}
#endif

#endif
