/*
 * ids: connection ids and tokens: 16 bytes from the kernel CSPRNG,
 * URL-safe base64 without padding (22 characters), as ASP.NET Core makes them.
 */
#ifndef POLLHUB_IDS_H
#define POLLHUB_IDS_H

#include <stddef.h>

#define ID_LEN 22

/* Fill out[ID_LEN + 1] with a fresh id. Returns 0, or -1 if getrandom fails. */
int	id_generate(char out[ID_LEN + 1]);
/* URL-safe base64 of n bytes into out (needs 4 * ceil(n / 3) + 1 bytes), no padding.
 * Returns the number of characters written. */
size_t	base64url_encode(const unsigned char *in, size_t n, char *out);
/* A connection's key, the form its token is stored and looked up in
 * (connections.token): URL-safe base64 without padding (ID_KEY_LEN
 * characters) of SHA-256(user, a NUL byte, token), user "" without an
 * identity. A stolen table gives no usable token, and a token presented
 * with another user's identity finds no row. pollhub.token_key in SQL is
 * the same function. Returns 0, or -1 if the digest fails. */
#define ID_KEY_LEN 43
int	id_token_key(const char *user, const char *token, char out[ID_KEY_LEN + 1]);
/* 1 if s (length n) has the shape of an id: ID_LEN characters of [A-Za-z0-9_-]. */
int	id_is_wellformed(const char *s, size_t n);

#endif
