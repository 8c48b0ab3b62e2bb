-- POST of a fixed form body (BENCH_BODY) with HTTP Basic client authentication (BENCH_BASIC:
-- base64 of client_id:secret): client_credentials at /token, or /introspect.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
