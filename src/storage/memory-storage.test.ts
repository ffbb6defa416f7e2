import { MemoryStorage } from './memory-storage.js';
import { runStorageConformance } from './testing/conformance.js';

runStorageConformance('MemoryStorage', async () => ({ storage: new MemoryStorage(), cleanup: async () => {} }));
