/**
 * Imported first by the benchmarks that run the platform in their own process, so that graphql-js and Express load
 * in production mode, as the Dockerfile runs the services (`NODE_ENV=production`; the forked-process benchmarks set
 * it for their children): graphql-js's development build checks every `instanceof` that fails for a second copy of
 * itself, which costs a large answer a few per cent (bench/README.md, "Subgraph execution without cache hints").
 */
process.env.NODE_ENV ??= "production";
