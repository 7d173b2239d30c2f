// The lockfile pins an AWS SDK release that supports Node 20; its notice about future releases is noise in test logs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
// aws-sdk v2 (the hosts' own, given to the sandbox) announces its maintenance mode on load: noise in test logs too.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
