// The bundle file name the WSO2 Carbon runtime computes for a jar, as java.util.jar reads its
// manifest: the reference side of carbon-patch's differential test (tests/cli/jvm.rs).
// Our own code (not WSO2's): it repeats the rule of the runtime's patch applier
// (PatchUtils.verifyBundleFileName in kernels 4.4 and 4.5+), SPEC §4 of carbon-patch:
//
//   new JarFile(file).getManifest().getMainAttributes()  -- no manifest: NullPointerException
//   bsn = Bundle-SymbolicName, ver = Bundle-Version (main attributes)
//   both non-null  -> bsn up to its first ';' (indexOf, not split) + "_" + ver + ".jar"
//   otherwise      -> the file keeps its own name
//
// Input: jar paths as arguments, or (with no arguments) one a line on standard input.
// Output, UTF-8, one line per jar, tab-separated:
//   <jar file name> TAB NAME TAB <name, escaped>
//   <jar file name> TAB OWN                       (a header is missing)
//   <jar file name> TAB ERROR TAB <exception class simple name>: <message, escaped>
// Escapes: backslash-backslash, backslash-t, -n, -r, and backslash-u then four upper-case hex
// digits (one UTF-16 unit) for every other char below 0x20 or above 0x7e.
// Exits 0 when every jar got a line.

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarFile;

public final class ManifestName {
    private ManifestName() {}

    /** The runtime's name for the jar, or null when the file keeps its own name. */
    static String runtimeName(File file) throws IOException {
        try (JarFile jar = new JarFile(file)) {
            // As the runtime writes it: a jar without a manifest throws NullPointerException
            // here (with the JDK's "helpful" message naming getManifest()).
            Attributes main = jar.getManifest().getMainAttributes();
            String bsn = main.getValue("Bundle-SymbolicName");
            String ver = main.getValue("Bundle-Version");
            if (bsn == null || ver == null) {
                return null;
            }
            int semicolon = bsn.indexOf(';');
            if (semicolon != -1) {
                bsn = bsn.substring(0, semicolon);
            }
            return bsn + "_" + ver + ".jar";
        }
    }

    static String escape(String s) {
        StringBuilder out = new StringBuilder(s.length() + 8);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\': out.append("\\\\"); break;
                case '\t': out.append("\\t"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                default:
                    if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04X", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.toString();
    }

    static String answer(File file) {
        try {
            String name = runtimeName(file);
            return name == null ? "OWN" : "NAME\t" + escape(name);
        } catch (Exception e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            return "ERROR\t" + escape(e.getClass().getSimpleName() + ": " + message);
        }
    }

    public static void main(String[] args) throws Exception {
        List<String> paths = new ArrayList<>();
        if (args.length > 0) {
            for (String a : args) {
                paths.add(a);
            }
        } else {
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.isEmpty()) {
                    paths.add(line);
                }
            }
        }
        PrintWriter out = new PrintWriter(new BufferedWriter(
                new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16));
        for (String p : paths) {
            File file = new File(p);
            out.print(escape(file.getName()));
            out.print('\t');
            out.print(answer(file));
            out.print('\n');
        }
        out.flush();
        if (out.checkError()) {
            System.exit(3);
        }
    }
}
