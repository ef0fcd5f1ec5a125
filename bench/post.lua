-- wrk script: POST the GraphQL body in $BODY_FILE, with $AUTHORIZATION if set.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/graphql-response+json"
local auth = os.getenv("AUTHORIZATION")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
