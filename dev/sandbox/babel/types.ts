import type { PluginObj, types as BabelTypes } from '@babel/core'

/** Shape of a Babel plugin factory as Babel calls it: it passes its API, we use only `types`. */
export type BabelPlugin = (api: { types: typeof BabelTypes }) => PluginObj
