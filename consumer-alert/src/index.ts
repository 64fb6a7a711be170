// Not built yet: this package is filled by its own issue. It says so instead of pretending to run.
console.error('consumer-alert is not implemented yet; see the README roadmap.');
process.exit(1);
