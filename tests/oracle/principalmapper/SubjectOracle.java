import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

import javax.security.auth.x500.X500Principal;

/**
 * Prints X500Principal.getName() (RFC 2253, what Kafka's default principal builder gives
 * the mapping rules) of each stdin line, a DER-encoded name in hex.
 */
public class SubjectOracle {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            System.out.println(new X500Principal(HexFormat.of().parseHex(line.trim())).getName());
        }
    }
}
