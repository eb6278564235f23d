import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

import org.apache.kafka.common.security.ssl.SslPrincipalMapper;

/**
 * Runs Kafka's own SslPrincipalMapper on each stdin line "rules TAB subject" and prints
 * one line per input: "ok TAB name", "parse" (fromRules refused the rules), "nomatch"
 * (getName found no rule) or "apply TAB exception" (getName failed otherwise).
 */
public class PrincipalMapperOracle {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.split("\t", 2);
            SslPrincipalMapper mapper;
            try {
                mapper = SslPrincipalMapper.fromRules(parts[0]);
            } catch (IllegalArgumentException e) {
                System.out.println("parse");
                continue;
            }
            try {
                System.out.println("ok\t" + mapper.getName(parts[1]));
            } catch (SslPrincipalMapper.NoMatchingRule e) {
                System.out.println("nomatch");
            } catch (Exception e) {
                System.out.println("apply\t" + e.getClass().getSimpleName());
            }
        }
    }
}
