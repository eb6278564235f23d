// Command kafscale runs a KafScale broker (`dev`: all-in-one with embedded etcd and a local
// object store), `broker` (external etcd and S3) and the admin verbs (`groups`, `cluster`,
// `topics`, `users`, `fsck`).
package main

import (
	"fmt"
	"os"
)

const usage = `usage: kafscale <command> [flags]

commands:
  dev      run one broker with embedded etcd and a local-directory object store
  broker   run a broker on external etcd and an S3 bucket; drain, undrain, status ask a
           running one (BrokerControl)
  groups   list, describe, delete consumer groups and reset their offsets (any Kafka cluster)
  cluster  describe the live brokers, the controller and the partitions each leads
  topics   create, list, describe, delete topics, alter their configs, delete records
           (any Kafka cluster)
  users    create, delete, list SCRAM users; hash a password for the PLAIN users file
  fsck     compare etcd with the bucket; --rebuild restores a lost etcd from the bucket
  version  print the version

Run 'kafscale <command> -h' for the flags of a command. Every flag can also be set with a
KAFSCALE_* environment variable (--flush-bytes -> KAFSCALE_FLUSH_BYTES).
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "dev":
		err = runDev(os.Args[2:])
	case "broker":
		err = runBrokerCmd(os.Args[2:])
	case "groups":
		err = runGroups(os.Args[2:])
	case "cluster":
		err = runCluster(os.Args[2:])
	case "topics":
		err = runTopics(os.Args[2:])
	case "users":
		err = runUsers(os.Args[2:])
	case "fsck":
		err = runFsck(os.Args[2:])
	case "version", "--version":
		fmt.Println("kafscale", version)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "kafscale: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafscale %s: %v\n", os.Args[1], err)
		os.Exit(exitCode(err)) // 2 for bad usage, 1 for a failed operation
	}
}
