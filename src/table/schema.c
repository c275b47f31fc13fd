/* CreateTable / UpdateTable validation (schema.h). The messages are DynamoDB's own. */
#include "table/schema.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/random.h"

#define invalid(err, ...) ll_err_set(err, LL_TB_VALIDATION, __VA_ARGS__)

bool ll_table_name_ok(const char *n) {
  size_t len = n ? strlen(n) : 0;
  if (len < 3 || len > 255) return false;
  for (size_t i = 0; i < len; i++) {
    char c = n[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  }
  return true;
}

static int key_type(const char *t) {
  return t && (strcmp(t, "S") == 0 || strcmp(t, "N") == 0 || strcmp(t, "B") == 0) ? t[0] : 0;
}

static json_t *throughput(const json_t *pt) {
  return json_pack("{s:i,s:I,s:I}", "NumberOfDecreasesToday", 0, "ReadCapacityUnits",
                   json_integer_value(json_object_get(pt, "ReadCapacityUnits")),
                   "WriteCapacityUnits", json_integer_value(json_object_get(pt, "WriteCapacityUnits")));
}

static json_t *pay_per_request_summary(void) {
  return json_pack("{s:s,s:f}", "BillingMode", "PAY_PER_REQUEST",
                   "LastUpdateToPayPerRequestDateTime", (double)ll_wall_ms() / 1000.0);
}

int ll_table_create_from(ll_tables_t *t, const json_t *in, const char *region,
                         const char *account, json_t **desc, ll_err_t *err) {
  const char *name = json_string_value(json_object_get(in, "TableName"));
  json_t *ks = json_object_get(in, "KeySchema"), *ad = json_object_get(in, "AttributeDefinitions");
  const char *billing = json_string_value(json_object_get(in, "BillingMode"));
  json_t *pt = json_object_get(in, "ProvisionedThroughput");
  if (!name || !ll_table_name_ok(name))
    return invalid(err, "1 validation error detected: Value '%s' at 'tableName' failed to satisfy "
                        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ "
                        "and have length between 3 and 255", name ? name : "null");
  if (!json_is_array(ks) || json_array_size(ks) < 1 || json_array_size(ks) > 2)
    return invalid(err, "1 validation error detected: Value '%s' at 'keySchema' failed to satisfy "
                        "constraint: Member must have length less than or equal to 2 and at least 1",
                   ks ? "[...]" : "null");
  ll_table_info_t info = {0};
  snprintf(info.name, sizeof info.name, "%s", name);
  for (size_t i = 0; i < json_array_size(ks); i++) {
    json_t *k = json_array_get(ks, i);
    const char *an = json_string_value(json_object_get(k, "AttributeName"));
    const char *kt = json_string_value(json_object_get(k, "KeyType"));
    bool hash = kt && strcmp(kt, "HASH") == 0, range = kt && strcmp(kt, "RANGE") == 0;
    if (!an || (!hash && !range) || (i == 0) != hash)
      return invalid(err, "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
    snprintf(hash ? info.hash : info.range, sizeof info.hash, "%s", an);
  }
  if (!json_is_array(ad))
    return invalid(err, "1 validation error detected: Value null at 'attributeDefinitions' failed "
                        "to satisfy constraint: Member must not be null");
  if (json_array_size(ad) != json_array_size(ks))
    return invalid(err, "One or more parameter values were invalid: Number of attributes in "
                        "KeySchema does not exactly match number of attributes defined in "
                        "AttributeDefinitions");
  for (size_t i = 0; i < json_array_size(ad); i++) {
    json_t *a = json_array_get(ad, i);
    const char *an = json_string_value(json_object_get(a, "AttributeName"));
    int kt = key_type(json_string_value(json_object_get(a, "AttributeType")));
    if (!an || !kt)
      return invalid(err, "1 validation error detected: Value '%s' at "
                          "'attributeDefinitions.%zu.member.attributeType' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [B, N, S]",
                     json_string_value(json_object_get(a, "AttributeType")) ?: "null", i + 1);
    if (strcmp(an, info.hash) == 0)
      info.hash_type = (char)kt;
    else if (info.range[0] && strcmp(an, info.range) == 0)
      info.range_type = (char)kt;
    else
      return invalid(err, "One or more parameter values were invalid: Some AttributeDefinitions "
                          "are not used. AttributeDefinitions: [%s], keys used: [%s%s%s]",
                     an, info.hash, info.range[0] ? ", " : "", info.range);
  }
  if (!info.hash_type || (info.range[0] && !info.range_type))
    return invalid(err, "One or more parameter values were invalid: Some index key attributes are "
                        "not defined in AttributeDefinitions. Keys: [%s%s%s], AttributeDefinitions: "
                        "[...]", info.hash, info.range[0] ? ", " : "", info.range);
  bool on_demand = billing && strcmp(billing, "PAY_PER_REQUEST") == 0;
  if (billing && !on_demand && strcmp(billing, "PROVISIONED") != 0)
    return invalid(err, "1 validation error detected: Value '%s' at 'billingMode' failed to satisfy "
                        "constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
                   billing);
  if (!on_demand && !pt)
    return invalid(err, "One or more parameter values were invalid: ReadCapacityUnits and "
                        "WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
  if (on_demand && pt)
    return invalid(err, "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
                        "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
  char arn[512], id[37];
  snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:%s:table/%s", region, account, name);
  ll_uuid4(id);
  json_t *d = json_pack("{s:O,s:s,s:O,s:s,s:f,s:s,s:s}", "AttributeDefinitions", ad, "TableName",
                        name, "KeySchema", ks, "TableStatus", "ACTIVE", "CreationDateTime",
                        (double)ll_wall_ms() / 1000.0, "TableArn", arn, "TableId", id);
  json_t *zero = json_pack("{s:i,s:i}", "ReadCapacityUnits", 0, "WriteCapacityUnits", 0);
  json_object_set_new(d, "ProvisionedThroughput", throughput(on_demand ? zero : pt));
  json_decref(zero);
  if (on_demand) json_object_set_new(d, "BillingModeSummary", pay_per_request_summary());
  info.desc = d;
  if (ll_table_create(t, &info, err) < 0) {
    json_decref(d);
    if (err->code == LL_TB_EXISTS) ll_err_set(err, LL_TB_EXISTS, "Table already exists: %s", name);
    return -1;
  }
  *desc = d;
  return 0;
}

int ll_table_update_from(ll_tables_t *t, const json_t *in, ll_err_t *err) {
  const char *name = json_string_value(json_object_get(in, "TableName"));
  json_t *pt = json_object_get(in, "ProvisionedThroughput");
  const char *billing = json_string_value(json_object_get(in, "BillingMode"));
  if (!pt && !billing)
    return invalid(err, "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
                        "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required");
  if (billing && strcmp(billing, "PAY_PER_REQUEST") != 0 && strcmp(billing, "PROVISIONED") != 0)
    return invalid(err, "1 validation error detected: Value '%s' at 'billingMode' failed to satisfy "
                        "constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
                   billing);
  ll_table_info_t info;
  if (ll_table_get(t, name ? name : "", &info, err) < 0) return -1;
  json_t *desc = json_deep_copy(info.desc); /* the stored one is shared: change a copy */
  ll_table_info_free(&info);
  if (billing && strcmp(billing, "PAY_PER_REQUEST") == 0)
    json_object_set_new(desc, "BillingModeSummary", pay_per_request_summary());
  else if (billing)
    json_object_del(desc, "BillingModeSummary");
  if (pt) json_object_set_new(desc, "ProvisionedThroughput", throughput(pt));
  int rc = ll_table_set_desc(t, name, desc, err);
  json_decref(desc);
  return rc;
}
