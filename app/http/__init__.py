"""The request edge shared by the pages, the REST API and the candidate's JSON: request dependencies (the
session, the signed-in principal, the candidate's link), idempotency keys, body limits, security headers
and slow-client deadlines."""
