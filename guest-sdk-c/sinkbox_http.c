/*
 * sinkbox_http.c: sb_http_post over wasi:http's outgoing-handler, for a
 * sink built for the `sink-world-http` world. Every resource it opens is
 * dropped before it returns, children before their parents (a body's
 * stream before the body is finished), as wasi:http requires.
 */
#include "sinkbox_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_world_http.h"

/* The most of a response body kept. */
#define SB_HTTP_BODY_MAX (64 * 1024)

static sink_world_http_string_t borrowed(const char *text, size_t len) {
  sink_world_http_string_t s = {(uint8_t *)text, len};
  return s;
}

static const char *error_name(uint8_t tag) {
  switch (tag) {
    case WASI_HTTP_TYPES_ERROR_CODE_DNS_TIMEOUT: return "DNS-timeout";
    case WASI_HTTP_TYPES_ERROR_CODE_DNS_ERROR: return "DNS-error";
    case WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_NOT_FOUND: return "destination-not-found";
    case WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_UNAVAILABLE: return "destination-unavailable";
    case WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_IP_PROHIBITED: return "destination-IP-prohibited";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_REFUSED: return "connection-refused";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TIMEOUT: return "connection-timeout";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_READ_TIMEOUT: return "connection-read-timeout";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_LIMIT_REACHED: return "connection-limit-reached";
    case WASI_HTTP_TYPES_ERROR_CODE_TLS_PROTOCOL_ERROR: return "TLS-protocol-error";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED: return "HTTP-request-denied";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_BODY_SIZE: return "HTTP-request-body-size";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_RESPONSE_TIMEOUT: return "HTTP-response-timeout";
    default: return NULL;
  }
}

/* What an error code means for the caller, with its name in `why`. */
static sb_http_result failed(wasi_http_types_error_code_t *code, bool sent, char *why, size_t why_len) {
  const char *name = error_name(code->tag);
  if (name) snprintf(why, why_len, "%s", name);
  else snprintf(why, why_len, "wasi:http error code %u", (unsigned)code->tag);
  uint8_t tag = code->tag;
  wasi_http_types_error_code_free(code);
  if (tag == WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED ||
      tag == WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_IP_PROHIBITED ||
      tag == WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_LIMIT_REACHED) {
    return SB_HTTP_DENIED;
  }
  if (sent && (tag == WASI_HTTP_TYPES_ERROR_CODE_HTTP_RESPONSE_TIMEOUT ||
               tag == WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_READ_TIMEOUT)) {
    return SB_HTTP_SENT_NO_ANSWER;
  }
  return SB_HTTP_NO_ANSWER;
}

static int64_t retry_after(wasi_http_types_borrow_fields_t headers) {
  const char *header = "retry-after";
  wasi_http_types_field_name_t name = borrowed(header, strlen(header));
  wasi_http_types_list_field_value_t values;
  wasi_http_types_method_fields_get(headers, &name, &values);
  int64_t seconds = -1;
  if (values.len > 0 && values.ptr[0].len > 0 && values.ptr[0].len < 16) {
    char text[16];
    memcpy(text, values.ptr[0].ptr, values.ptr[0].len);
    text[values.ptr[0].len] = '\0';
    char *end;
    long long parsed = strtoll(text, &end, 10);
    if (*end == '\0' && parsed >= 0) seconds = parsed;
  }
  wasi_http_types_list_field_value_free(&values);
  return seconds;
}

static void read_body(wasi_http_types_borrow_incoming_response_t response, sb_http_response *out) {
  out->body = malloc(1);
  if (out->body == NULL) abort();
  out->body[0] = '\0';
  out->body_len = 0;
  wasi_http_types_own_incoming_body_t body;
  if (!wasi_http_types_method_incoming_response_consume(response, &body)) return;
  wasi_http_types_own_input_stream_t stream;
  if (wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body), &stream)) {
    for (;;) {
      sink_world_http_list_u8_t chunk;
      wasi_io_streams_stream_error_t err;
      if (!wasi_io_streams_method_input_stream_blocking_read(wasi_io_streams_borrow_input_stream(stream), 65536,
                                                             &chunk, &err)) {
        if (err.tag == WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED) {
          wasi_io_error_error_drop_own(err.val.last_operation_failed);
        }
        break; /* closed: the whole body was read */
      }
      size_t keep = chunk.len;
      if (out->body_len + keep > SB_HTTP_BODY_MAX) keep = SB_HTTP_BODY_MAX - out->body_len;
      if (keep > 0) {
        char *grown = realloc(out->body, out->body_len + keep + 1);
        if (grown == NULL) abort();
        out->body = grown;
        memcpy(out->body + out->body_len, chunk.ptr, keep);
        out->body_len += keep;
        out->body[out->body_len] = '\0';
      }
      sink_world_http_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(stream);
  }
  wasi_http_types_future_trailers_drop_own(wasi_http_types_static_incoming_body_finish(body));
}

sb_http_result sb_http_post(const char *url, const char *content_type, const uint8_t *body, size_t body_len,
                            sb_http_response *response, char *why, size_t why_len) {
  memset(response, 0, sizeof *response);
  response->retry_after_s = -1;
  /* scheme://authority/path */
  wasi_http_types_scheme_t scheme;
  const char *rest;
  if (strncmp(url, "https://", 8) == 0) {
    scheme.tag = WASI_HTTP_TYPES_SCHEME_HTTPS;
    rest = url + 8;
  } else if (strncmp(url, "http://", 7) == 0) {
    scheme.tag = WASI_HTTP_TYPES_SCHEME_HTTP;
    rest = url + 7;
  } else {
    snprintf(why, why_len, "`%s` does not start with http:// or https://", url);
    return SB_HTTP_BAD_URL;
  }
  const char *slash = strchr(rest, '/');
  size_t authority_len = slash ? (size_t)(slash - rest) : strlen(rest);
  if (authority_len == 0) {
    snprintf(why, why_len, "`%s` names no host", url);
    return SB_HTTP_BAD_URL;
  }
  const char *path = slash ? slash : "/";

  const char *header = "content-type";
  wasi_http_types_tuple2_field_name_field_value_t entry;
  entry.f0 = borrowed(header, strlen(header));
  entry.f1.ptr = (uint8_t *)content_type;
  entry.f1.len = strlen(content_type);
  wasi_http_types_list_tuple2_field_name_field_value_t entries = {&entry, 1};
  wasi_http_types_own_fields_t headers;
  wasi_http_types_header_error_t header_err;
  if (!wasi_http_types_static_fields_from_list(&entries, &headers, &header_err)) {
    wasi_http_types_header_error_free(&header_err);
    snprintf(why, why_len, "content type `%s` is not a valid header value", content_type);
    return SB_HTTP_BAD_URL;
  }
  wasi_http_types_own_outgoing_request_t request = wasi_http_types_constructor_outgoing_request(headers);
  wasi_http_types_borrow_outgoing_request_t req = wasi_http_types_borrow_outgoing_request(request);
  wasi_http_types_method_t method;
  method.tag = WASI_HTTP_TYPES_METHOD_POST;
  sink_world_http_string_t authority = borrowed(rest, authority_len);
  sink_world_http_string_t path_with_query = borrowed(path, strlen(path));
  if (!wasi_http_types_method_outgoing_request_set_method(req, &method) ||
      !wasi_http_types_method_outgoing_request_set_scheme(req, &scheme) ||
      !wasi_http_types_method_outgoing_request_set_authority(req, &authority) ||
      !wasi_http_types_method_outgoing_request_set_path_with_query(req, &path_with_query)) {
    wasi_http_types_outgoing_request_drop_own(request);
    snprintf(why, why_len, "`%s` is not a usable URL", url);
    return SB_HTTP_BAD_URL;
  }
  wasi_http_types_own_outgoing_body_t outgoing_body;
  wasi_http_types_method_outgoing_request_body(req, &outgoing_body);

  wasi_http_outgoing_handler_own_future_incoming_response_t future;
  wasi_http_outgoing_handler_error_code_t code;
  if (!wasi_http_outgoing_handler_handle(request, NULL, &future, &code)) {
    wasi_http_types_outgoing_body_drop_own(outgoing_body);
    return failed(&code, false, why, why_len);
  }
  /* The body, then the body finished: the stream (its child) first. */
  wasi_http_types_own_output_stream_t stream;
  if (wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(outgoing_body), &stream)) {
    for (size_t at = 0; at < body_len; at += 4096) {
      size_t n = body_len - at < 4096 ? body_len - at : 4096;
      sink_world_http_list_u8_t piece = {(uint8_t *)body + at, n};
      wasi_io_streams_stream_error_t err;
      if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(wasi_io_streams_borrow_output_stream(stream),
                                                                         &piece, &err)) {
        if (err.tag == WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED) {
          wasi_io_error_error_drop_own(err.val.last_operation_failed);
        }
        break; /* the host gave up on the request; its reason comes below */
      }
    }
    wasi_io_streams_output_stream_drop_own(stream);
  }
  wasi_http_types_error_code_t finish_err;
  if (!wasi_http_types_static_outgoing_body_finish(outgoing_body, NULL, &finish_err)) {
    wasi_http_types_error_code_free(&finish_err);
  }

  wasi_http_types_borrow_future_incoming_response_t waiting = wasi_http_types_borrow_future_incoming_response(future);
  wasi_http_types_result_result_own_incoming_response_error_code_void_t answer;
  while (!wasi_http_types_method_future_incoming_response_get(waiting, &answer)) {
    wasi_http_types_own_pollable_t ready = wasi_http_types_method_future_incoming_response_subscribe(waiting);
    wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
    wasi_io_poll_pollable_drop_own(ready);
  }
  wasi_http_types_future_incoming_response_drop_own(future);
  if (answer.is_err) {
    snprintf(why, why_len, "the answer was already taken");
    return SB_HTTP_NO_ANSWER;
  }
  if (answer.val.ok.is_err) return failed(&answer.val.ok.val.err, true, why, why_len);
  wasi_http_types_own_incoming_response_t incoming = answer.val.ok.val.ok;
  wasi_http_types_borrow_incoming_response_t borrowed_response = wasi_http_types_borrow_incoming_response(incoming);
  response->status = wasi_http_types_method_incoming_response_status(borrowed_response);
  wasi_http_types_own_headers_t answer_headers = wasi_http_types_method_incoming_response_headers(borrowed_response);
  response->retry_after_s = retry_after(wasi_http_types_borrow_fields(answer_headers));
  wasi_http_types_fields_drop_own(answer_headers);
  read_body(borrowed_response, response);
  wasi_http_types_incoming_response_drop_own(incoming);
  return SB_HTTP_ANSWERED;
}

void sb_http_response_free(sb_http_response *response) {
  free(response->body);
  response->body = NULL;
  response->body_len = 0;
}
