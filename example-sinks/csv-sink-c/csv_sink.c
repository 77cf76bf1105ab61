/*
 * csv-sink-c: writes records as CSV rows into a file in the sink's grant,
 * one column per configured field: the C example sink.
 *
 * Options (the sink's `config` table):
 *   columns    comma-separated top-level fields, in order
 *              (default: timestamp,level,message)
 *   path       the output file, inside the grant (default: /data/records.csv)
 *   max_bytes  the most the file may grow to (default: no limit)
 *
 * A header row is written when the file is new. A string field is written
 * unescaped, anything else (a number, true, an object) as its JSON text, a
 * missing field as an empty cell; quoting as RFC 4180 has it.
 *
 * Answers, truthfully per record: a record that is not a JSON object is
 * rejected on its own (dead-lettered, "not a JSON object"); when the file
 * reaches `max_bytes`, the rows that fit are kept and the rest of the batch
 * is retryable (sent again, in order, once the operator rotated the file);
 * a write the file system refuses after some rows went out is `partial`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinkbox_sink.h"

#define MAX_COLUMNS 64

static struct {
  char *columns[MAX_COLUMNS];
  size_t column_count;
  char path[1024];
  FILE *file;
  long long size;
  long long max_bytes; /* 0: no limit */
  unsigned long long rows;
  unsigned long long refused;
} sink;

/* A growable text buffer. */
typedef struct {
  char *ptr;
  size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1) cap *= 2;
    char *grown = realloc(t->ptr, cap);
    if (grown == NULL) abort();
    t->ptr = grown;
    t->cap = cap;
  }
  memcpy(t->ptr + t->len, s, n);
  t->len += n;
}

static void put_char(text *t, char c) { put(t, &c, 1); }

/* --- reading JSON (the host hands over valid, compact JSON) --------------- */

/* The index just past the JSON value starting at `at`. */
static size_t skip_value(const uint8_t *s, size_t len, size_t at) {
  if (at >= len) return len;
  if (s[at] == '"') {
    for (at++; at < len; at++) {
      if (s[at] == '\\') at++;
      else if (s[at] == '"') return at + 1;
    }
    return len;
  }
  if (s[at] == '{' || s[at] == '[') {
    int depth = 0;
    for (; at < len; at++) {
      if (s[at] == '"') {
        at = skip_value(s, len, at) - 1;
      } else if (s[at] == '{' || s[at] == '[') {
        depth++;
      } else if (s[at] == '}' || s[at] == ']') {
        if (--depth == 0) return at + 1;
      }
    }
    return len;
  }
  while (at < len && s[at] != ',' && s[at] != '}' && s[at] != ']') at++;
  return at;
}

static void put_utf8(text *t, unsigned point) {
  char b[4];
  if (point < 0x80) { b[0] = (char)point; put(t, b, 1); }
  else if (point < 0x800) { b[0] = (char)(0xC0 | point >> 6); b[1] = (char)(0x80 | (point & 0x3F)); put(t, b, 2); }
  else if (point < 0x10000) {
    b[0] = (char)(0xE0 | point >> 12); b[1] = (char)(0x80 | ((point >> 6) & 0x3F)); b[2] = (char)(0x80 | (point & 0x3F));
    put(t, b, 3);
  } else {
    b[0] = (char)(0xF0 | point >> 18); b[1] = (char)(0x80 | ((point >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((point >> 6) & 0x3F)); b[3] = (char)(0x80 | (point & 0x3F));
    put(t, b, 4);
  }
}

static unsigned hex4(const uint8_t *s) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t c = s[i];
    v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

/* The text of a JSON string (between its quotes), unescaped, into `out`. */
static void unescape(text *out, const uint8_t *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '\\' || i + 1 >= len) { put_char(out, (char)s[i]); continue; }
    uint8_t e = s[++i];
    switch (e) {
      case 'n': put_char(out, '\n'); break;
      case 't': put_char(out, '\t'); break;
      case 'r': put_char(out, '\r'); break;
      case 'b': put_char(out, '\b'); break;
      case 'f': put_char(out, '\f'); break;
      case 'u': {
        if (i + 4 >= len) return;
        unsigned point = hex4(s + i + 1);
        i += 4;
        if (point >= 0xD800 && point <= 0xDBFF && i + 6 < len && s[i + 1] == '\\' && s[i + 2] == 'u') {
          unsigned low = hex4(s + i + 3);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            point = 0x10000 + ((point - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        if (point >= 0xD800 && point <= 0xDFFF) point = 0xFFFD; /* a lone surrogate */
        put_utf8(out, point);
        break;
      }
      default: put_char(out, (char)e); /* \" \\ \/ */
    }
  }
}

/* Finds `key` among the top-level fields of the object `s`; its value's span. */
static bool field(const uint8_t *s, size_t len, const char *key, size_t *start, size_t *end) {
  size_t keylen = strlen(key);
  size_t at = 1; /* past '{' */
  while (at < len && s[at] == '"') {
    size_t key_end = skip_value(s, len, at);
    size_t value = key_end + 1; /* past ':' */
    size_t value_end = skip_value(s, len, value);
    if (key_end - at - 2 == keylen && memcmp(s + at + 1, key, keylen) == 0) {
      *start = value;
      *end = value_end;
      return true;
    }
    at = value_end + 1; /* past ',' */
  }
  return false;
}

/* --- CSV ---------------------------------------------------------------- */

static void put_cell(text *row, const char *cell, size_t n) {
  bool quote = false;
  for (size_t i = 0; i < n; i++) {
    if (cell[i] == ',' || cell[i] == '"' || cell[i] == '\n' || cell[i] == '\r') quote = true;
  }
  if (!quote) { put(row, cell, n); return; }
  put_char(row, '"');
  for (size_t i = 0; i < n; i++) {
    if (cell[i] == '"') put_char(row, '"');
    put_char(row, cell[i]);
  }
  put_char(row, '"');
}

static void put_row(text *row, const uint8_t *record, size_t len) {
  text cell = {0};
  for (size_t c = 0; c < sink.column_count; c++) {
    if (c > 0) put_char(row, ',');
    size_t start, end;
    if (!field(record, len, sink.columns[c], &start, &end)) continue;
    cell.len = 0;
    if (record[start] == '"') unescape(&cell, record + start + 1, end - start - 2);
    else put(&cell, (const char *)record + start, end - start);
    put_cell(row, cell.ptr, cell.len);
  }
  put(row, "\r\n", 2);
  free(cell.ptr);
}

/* --- the sink ------------------------------------------------------------ */

static const char *const OPTIONS[] = {"columns", "path", "max_bytes", NULL};
static char start_error[512];

const char *sink_start(const sb_config *config) {
  const char *unknown = sb_config_unknown(config, OPTIONS);
  if (unknown) {
    snprintf(start_error, sizeof start_error, "unknown option `%s`; valid options: columns, path, max_bytes", unknown);
    return start_error;
  }
  for (size_t c = 0; c < sink.column_count; c++) free(sink.columns[c]);
  sink.column_count = 0;
  const char *columns = sb_config_get_or(config, "columns", "timestamp,level,message");
  for (const char *at = columns; *at;) {
    const char *comma = strchr(at, ',');
    size_t n = comma ? (size_t)(comma - at) : strlen(at);
    if (n == 0 || sink.column_count == MAX_COLUMNS) {
      snprintf(start_error, sizeof start_error, "columns = `%s`: give 1 to %d field names separated by single commas", columns, MAX_COLUMNS);
      return start_error;
    }
    sink.columns[sink.column_count] = strndup(at, n);
    sink.column_count++;
    at += n + (comma ? 1 : 0);
  }
  const char *max = sb_config_get_or(config, "max_bytes", "0");
  char *end;
  sink.max_bytes = strtoll(max, &end, 10);
  if (*end != '\0' || sink.max_bytes < 0) {
    snprintf(start_error, sizeof start_error, "max_bytes = `%s`: give a whole number of bytes, such as 10485760", max);
    return start_error;
  }
  snprintf(sink.path, sizeof sink.path, "%s", sb_config_get_or(config, "path", "/data/records.csv"));
  if (sink.file) fclose(sink.file);
  sink.file = fopen(sink.path, "ab");
  if (sink.file == NULL) {
    snprintf(start_error, sizeof start_error,
             "cannot open `%s`: %s; grant the sink a directory and point `path` inside it", sink.path, strerror(errno));
    return start_error;
  }
  fseek(sink.file, 0, SEEK_END);
  sink.size = ftell(sink.file);
  if (sink.size == 0) {
    text header = {0};
    for (size_t c = 0; c < sink.column_count; c++) {
      if (c > 0) put_char(&header, ',');
      put_cell(&header, sink.columns[c], strlen(sink.columns[c]));
    }
    put(&header, "\r\n", 2);
    fwrite(header.ptr, 1, header.len, sink.file);
    sink.size += (long long)header.len;
    free(header.ptr);
  }
  return NULL;
}

sb_outcome sink_write(const sb_batch *batch) {
  sb_outcome answer = sb_per_record();
  bool refused_any = false;
  text row = {0};
  size_t offset = 0;
  sb_bytes record;
  uint32_t index = 0;
  uint32_t written = 0; /* rows written, non-objects counted as settled */
  while (sb_next_record(batch, &offset, &record)) {
    if (record.len == 0 || record.ptr[0] != '{') {
      sb_reject_records(&answer, index, index + 1, "not a JSON object");
      refused_any = true;
      sink.refused++;
      index++;
      written = index;
      continue;
    }
    row.len = 0;
    put_row(&row, record.ptr, record.len);
    if (sink.max_bytes > 0 && sink.size + (long long)row.len > sink.max_bytes) {
      /* The file is full: the rows that fit stay, the rest waits. */
      fflush(sink.file);
      sb_retry_records(&answer, index, batch->count, "the file reached max_bytes; rotate it to go on");
      free(row.ptr);
      sb_log(SB_WARN, "%s reached max_bytes (%lld): %u record(s) wait", sink.path, sink.max_bytes, batch->count - index);
      return answer;
    }
    if (fwrite(row.ptr, 1, row.len, sink.file) != row.len) {
      char reason[256];
      snprintf(reason, sizeof reason, "cannot write `%s`: %s", sink.path, strerror(errno));
      free(row.ptr);
      if (refused_any) {
        sb_retry_records(&answer, index, batch->count, reason);
        return answer;
      }
      sb_discard(&answer);
      return written > 0 ? sb_partial(written, reason) : sb_retryable(reason);
    }
    sink.size += (long long)row.len;
    sink.rows++;
    index++;
    written = index;
  }
  free(row.ptr);
  if (fflush(sink.file) != 0) {
    char reason[256];
    snprintf(reason, sizeof reason, "cannot write `%s`: %s", sink.path, strerror(errno));
    sb_discard(&answer);
    return sb_retryable(reason);
  }
  if (refused_any) return answer;
  sb_discard(&answer);
  return sb_accepted();
}

sb_flush sink_flush(void) {
  if (sink.file && fflush(sink.file) != 0) return sb_flush_retryable(strerror(errno));
  sb_log(SB_INFO, "%llu row(s) in %s, %llu record(s) refused", sink.rows, sink.path, sink.refused);
  return sb_flushed();
}

void sink_stop(void) {
  if (sink.file) fclose(sink.file);
  sink.file = NULL;
}

sb_health sink_health(void) {
  if (sink.max_bytes > 0 && sink.size >= sink.max_bytes) return sb_degraded("the file reached max_bytes");
  return sb_healthy();
}
