import { fileURLToPath } from 'node:url';

export const openApiPath = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));
