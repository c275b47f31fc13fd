/* CreateTable and UpdateTable requests, validated with DynamoDB's messages and applied to the
 * table store: what the DynamoDB API (src/api/dynamodb.c) and the stack engine's
 * AWS::DynamoDB::Table provider (src/stack) share, so a template and an API call accept and
 * refuse exactly the same tables. */
#ifndef LL_TABLE_SCHEMA_H
#define LL_TABLE_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "table/table.h"

/* ValidationException, in ll_err_t.code (with DynamoDB's message). */
#define LL_TB_VALIDATION 4101

/* Whether name is a valid table name ([a-zA-Z0-9_.-], 3 to 255 characters). */
bool ll_table_name_ok(const char *name);

/* Validates a CreateTable request (TableName, KeySchema, AttributeDefinitions, BillingMode,
 * ProvisionedThroughput; borrowed) and creates the table, its ARN in region/account. 0 with
 * *desc a new reference to the stored TableDescription (without the live counts), or -1 with
 * LL_TB_VALIDATION or LL_TB_EXISTS ("Table already exists: NAME"). */
int ll_table_create_from(ll_tables_t *t, const json_t *req, const char *region,
                         const char *account, json_t **desc, ll_err_t *err);

/* Applies an UpdateTable request (TableName, BillingMode, ProvisionedThroughput) to the stored
 * description. 0, or -1 with LL_TB_VALIDATION / LL_TB_NOT_FOUND. */
int ll_table_update_from(ll_tables_t *t, const json_t *req, ll_err_t *err);

#endif
