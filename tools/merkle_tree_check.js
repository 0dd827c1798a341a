// Reads a rewards tree dump (computerails.rewards.RewardsTree.dump(), format standard-v1) and
// answers, with OpenZeppelin's own @openzeppelin/merkle-tree: the dump loaded and validated, a
// tree built afresh from the same values, its root and every account's proof (JSON on stdout).
// Used by tests/sdk/test_rewards_tree.py to check our trees against the reference library.
const fs = require("fs");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const dump = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const loaded = StandardMerkleTree.load(dump);
loaded.validate(); // throws if any node is not what the values imply
const fresh = StandardMerkleTree.of(
  dump.values.map((v) => v.value),
  dump.leafEncoding,
);
const proofs = {};
for (const [i, value] of fresh.entries()) {
  proofs[value[0].toLowerCase()] = fresh.getProof(i);
  if (
    !StandardMerkleTree.verify(
      fresh.root,
      dump.leafEncoding,
      value,
      fresh.getProof(i),
    )
  ) {
    throw new Error(`the library's own proof of ${value[0]} does not verify`);
  }
}
process.stdout.write(
  JSON.stringify({ loadedRoot: loaded.root, freshRoot: fresh.root, proofs }),
);
