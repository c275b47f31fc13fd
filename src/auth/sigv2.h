/* S3's legacy query-string authentication (Signature Version 2): presigned URLs carrying
 * AWSAccessKeyId, Expires and Signature — what boto3's generate_presigned_url makes for S3 by
 * default in the botocore Debian 12 ships. Verification only. */
#ifndef LL_AUTH_SIGV2_H
#define LL_AUTH_SIGV2_H

#include <stdbool.h>
#include <time.h>

#include "auth/sigv4.h"

/* Whether the query carries SigV2 authentication (AWSAccessKeyId and Signature). */
bool ll_sigv2_is_query_auth(const char *query);

/* Verifies req's query authentication at wall time `now`: StringToSign = method, Content-MD5,
 * Content-Type, Expires, the x-amz-* headers and the resource (the wire path plus the
 * sub-resources S3 signs, such as uploadId or response-content-type, sorted, values decoded);
 * base64(HMAC-SHA1(secret, it)) must equal Signature. 0, or -1 with res filled as
 * ll_sigv4_verify does (s3_code AccessDenied for missing parameters and expiry,
 * InvalidAccessKeyId, SignatureDoesNotMatch). res->region and res->service stay empty. */
int ll_sigv2_verify_query(const ll_sigv4_request_t *req, ll_sigv4_secret_fn secret_fn, void *ud,
                          time_t now, ll_sigv4_result_t *res);

#endif
