// Stands in for LocalStack's ddb-local-loader agent, which LocalStack always passes to DynamoDB Local with
// -javaagent and would otherwise download. The real one only lifts DynamoDB Local's 20-index limit.
public final class NoopAgent {
    public static void premain(String arguments, java.lang.instrument.Instrumentation instrumentation) {}
}
