/*
 * sinkbox_http.h: sending an HTTP request from a C sink, over the host's
 * wasi:http. Build the sink for the `sink-world-http` world with
 * -DSINKBOX_WORLD_HTTP and add sinkbox_http.c.
 *
 * A sink reaches only what the operator granted (`http_allow`); anything
 * else is refused by the host before a byte leaves (SB_HTTP_DENIED).
 * Headers the operator injects (secrets among them) are added by the host
 * and never seen here. Calls block, which suits the one call per batch a
 * sink gets.
 */
#ifndef SINKBOX_HTTP_H
#define SINKBOX_HTTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a request ended. */
typedef enum sb_http_result {
  SB_HTTP_ANSWERED,   /* the server answered: see the response */
  SB_HTTP_DENIED,     /* the host's grant refused it: do not retry it */
  SB_HTTP_BAD_URL,    /* the URL is not http:// or https:// host[:port][/path] */
  SB_HTTP_NO_ANSWER,  /* connection refused, TLS, a timeout before sending */
  SB_HTTP_SENT_NO_ANSWER /* sent, then no answer in time: it may have arrived */
} sb_http_result;

/* A server's answer; free it with sb_http_response_free. */
typedef struct sb_http_response {
  uint16_t status;
  int64_t retry_after_s; /* the Retry-After header in seconds, or -1 */
  char *body;            /* the first 64 KiB of the body, NUL-terminated */
  size_t body_len;
} sb_http_response;

/* POSTs `body` to `url` with `content_type`. On SB_HTTP_ANSWERED,
 * `response` holds the answer; otherwise `why` (of `why_len` bytes) says
 * what went wrong, with the wasi:http error code. */
sb_http_result sb_http_post(const char *url, const char *content_type, const uint8_t *body,
                            size_t body_len, sb_http_response *response, char *why, size_t why_len);

void sb_http_response_free(sb_http_response *response);

#ifdef __cplusplus
}
#endif

#endif
